package dev.pinfleet.wheel;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The wheel tags one target interpreter accepts, following the order and rules of
 * {@code packaging.tags.sys_tags()} for CPython: {@code cpXY-cpXY-plat}, {@code cpXY-abi3-plat},
 * {@code cpXY-none-plat}, older {@code cp3N-abi3-plat}, then {@code py3N/py3-none-plat|any} and
 * {@code cpXY-none-any}. Platforms come most specific first; the legacy manylinux names
 * (manylinux1, manylinux2010, manylinux2014) are accepted as aliases of manylinux_2_5, _2_12 and
 * _2_17. A platform absent from the list (musllinux on glibc, win_amd64, macosx…) is refused.
 */
public final class Tags {
    private static final Pattern PY_VERSION = Pattern.compile("([0-9]+)\\.([0-9]+)");
    private static final Pattern MANYLINUX = Pattern.compile("manylinux_([0-9]+)_([0-9]+)_(.+)");

    private final String description;
    private final Set<String> supported;
    private final List<String> platforms;

    private Tags(String description, Set<String> supported, List<String> platforms) {
        this.description = description;
        this.supported = supported;
        this.platforms = platforms;
    }

    /**
     * The tags a target interpreter supports.
     *
     * @param implementation short implementation name: "cp" for CPython, "pp" for PyPy
     * @param version "MAJOR.MINOR", e.g. "3.11"
     * @param abiTag the interpreter's own ABI tag, e.g. "cp311"
     * @param platformTags supported platform tags, most specific first (e.g. from {@link #linuxPlatforms})
     */
    public static Tags forInterpreter(String implementation, String version, String abiTag, List<String> platformTags) {
        Matcher v = PY_VERSION.matcher(version);
        if (!v.matches()) {
            throw new IllegalArgumentException("python version '" + version + "' is not MAJOR.MINOR");
        }
        int major = Integer.parseInt(v.group(1));
        int minor = Integer.parseInt(v.group(2));
        List<String> plats = withLegacyAliases(platformTags);
        String interp = implementation + major + minor;
        Set<String> tags = new LinkedHashSet<>();
        List<String> abis = new ArrayList<>();
        abis.add(abiTag);
        if (implementation.equals("cp")) {
            abis.add("abi3");
        }
        abis.add("none");
        for (String abi : abis) {
            for (String p : plats) {
                tags.add(interp + "-" + abi + "-" + p);
            }
        }
        if (implementation.equals("cp")) {
            for (int m = minor - 1; m >= 2 && major == 3; m--) {
                for (String p : plats) {
                    tags.add("cp3" + m + "-abi3-" + p);
                }
            }
        }
        List<String> generic = new ArrayList<>();
        generic.add("py" + major + minor);
        generic.add("py" + major);
        for (int m = minor - 1; m >= 0; m--) {
            generic.add("py" + major + m);
        }
        for (String py : generic) {
            for (String p : plats) {
                tags.add(py + "-none-" + p);
            }
        }
        tags.add(interp + "-none-any");
        for (String py : generic) {
            tags.add(py + "-none-any");
        }
        String desc = implementation + " " + version + " (abi " + abiTag + ", platforms "
                + (plats.isEmpty() ? "none" : plats.get(0) + (plats.size() > 1 ? " … " + plats.get(plats.size() - 1) : ""))
                + ")";
        return new Tags(desc, Set.copyOf(tags), List.copyOf(plats));
    }

    /**
     * Linux platform tags for a glibc system, most specific first, as pip computes them:
     * {@code manylinux_2_<minor>_<arch>} down to the oldest for the architecture (2_5 for x86_64 and
     * i686, 2_17 otherwise), legacy aliases after their version, then {@code linux_<arch>}.
     * With {@code glibcMajor <= 0} (no glibc, e.g. musl) only {@code linux_<arch>} is returned.
     */
    public static List<String> linuxPlatforms(String arch, int glibcMajor, int glibcMinor) {
        List<String> out = new ArrayList<>();
        if (glibcMajor == 2) {
            int oldest = arch.equals("x86_64") || arch.equals("i686") ? 5 : 17;
            for (int m = glibcMinor; m >= oldest; m--) {
                out.add("manylinux_2_" + m + "_" + arch);
                String legacy = legacyAlias(2, m, arch);
                if (legacy != null) {
                    out.add(legacy);
                }
            }
        }
        out.add("linux_" + arch);
        return List.copyOf(out);
    }

    /** True when at least one tag triple the wheel's file name expands to is supported. */
    public boolean isCompatible(WheelFilename wheel) {
        return whyIncompatible(wheel) == null;
    }

    /** Null when the wheel suits this interpreter, otherwise a sentence saying which tags and why. */
    public String whyIncompatible(WheelFilename wheel) {
        for (String py : wheel.pythonTags()) {
            for (String abi : wheel.abiTags()) {
                for (String plat : wheel.platformTags()) {
                    if (supported.contains(py + "-" + abi + "-" + plat)) {
                        return null;
                    }
                }
            }
        }
        return "wheel tags " + String.join(".", wheel.pythonTags()) + "-" + String.join(".", wheel.abiTags()) + "-"
                + String.join(".", wheel.platformTags()) + " do not suit the target interpreter " + description;
    }

    /** The platform tags accepted, legacy aliases included, most specific first. */
    public List<String> platforms() {
        return platforms;
    }

    private static List<String> withLegacyAliases(List<String> platformTags) {
        Set<String> out = new LinkedHashSet<>();
        for (String p : platformTags) {
            out.add(p);
            Matcher m = MANYLINUX.matcher(p);
            if (m.matches()) {
                String legacy = legacyAlias(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), m.group(3));
                if (legacy != null) {
                    out.add(legacy);
                }
            }
        }
        return new ArrayList<>(out);
    }

    private static String legacyAlias(int major, int minor, String arch) {
        if (major != 2) {
            return null;
        }
        return switch (minor) {
            case 17 -> "manylinux2014_" + arch;
            case 12 -> arch.equals("x86_64") || arch.equals("i686") ? "manylinux2010_" + arch : null;
            case 5 -> arch.equals("x86_64") || arch.equals("i686") ? "manylinux1_" + arch : null;
            default -> null;
        };
    }

    @Override
    public String toString() {
        return description;
    }
}

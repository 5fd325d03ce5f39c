package dev.pinfleet.controller.freeze;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The values of the PEP 508 environment marker variables for the fleet's target interpreter and platform,
 * as {@code packaging.markers.default_environment()} would report them on a node: CPython on Linux.
 *
 * <p>When only MAJOR.MINOR is known, {@code python_full_version} (and {@code implementation_version}) are
 * open: a marker is then evaluated for the lowest ({@code X.Y.0}) and a high ({@code X.Y.99}) patch release,
 * and an answer that depends on the patch release is an error asking for {@code --python X.Y.Z}. Variables
 * that describe the node's kernel ({@code platform_release}, {@code platform_version}) are not known before
 * deploy; a marker that needs them is an error.
 */
public final class MarkerEnvironment {
    /** The variables of PEP 508, in its order. */
    public static final List<String> VARIABLES = List.of("python_version", "python_full_version", "os_name",
            "sys_platform", "platform_release", "platform_system", "platform_version", "platform_machine",
            "platform_python_implementation", "implementation_name", "implementation_version", "extra");

    private static final Pattern PYTHON = Pattern.compile("([0-9]+)\\.([0-9]+)(?:\\.([0-9]+))?");
    private static final Pattern PLATFORM = Pattern.compile("(?:manylinux_[0-9]+_[0-9]+|linux)_([a-z0-9_]+)");
    private static final Map<String, String> ALIASES = Map.of("os.name", "os_name", "sys.platform", "sys_platform",
            "platform.version", "platform_version", "platform.machine", "platform_machine",
            "platform.python_implementation", "platform_python_implementation",
            "python_implementation", "platform_python_implementation");

    private final List<Map<String, String>> variants;
    private final String description;

    private MarkerEnvironment(List<Map<String, String>> variants, String description) {
        this.variants = variants;
        this.description = description;
    }

    /**
     * The environment of CPython {@code python} (MAJOR.MINOR or MAJOR.MINOR.PATCH) on Linux {@code platform}
     * ({@code manylinux_2_N_ARCH} or {@code linux_ARCH}).
     *
     * @throws IllegalArgumentException when either is malformed
     */
    public static MarkerEnvironment cpythonLinux(String python, String platform) {
        Matcher p = PYTHON.matcher(python);
        Matcher m = PLATFORM.matcher(platform);
        if (!p.matches()) {
            throw new IllegalArgumentException("python '" + python + "' is not MAJOR.MINOR[.PATCH]");
        }
        if (!m.matches()) {
            throw new IllegalArgumentException("platform '" + platform + "' is not manylinux_2_N_ARCH or linux_ARCH");
        }
        String minor = p.group(1) + "." + p.group(2);
        List<String> fulls = p.group(3) != null ? List.of(python) : List.of(minor + ".0", minor + ".99");
        List<Map<String, String>> variants = fulls.stream().map(full -> {
            Map<String, String> v = new LinkedHashMap<>();
            v.put("python_version", minor);
            v.put("python_full_version", full);
            v.put("os_name", "posix");
            v.put("sys_platform", "linux");
            v.put("platform_system", "Linux");
            v.put("platform_machine", m.group(1));
            v.put("platform_python_implementation", "CPython");
            v.put("implementation_name", "cpython");
            v.put("implementation_version", full);
            return Map.copyOf(v);
        }).toList();
        return new MarkerEnvironment(variants, "CPython " + python + " on " + platform);
    }

    /** Python {@code X.Y[.Z]} on {@code platform}, for messages. */
    public String description() {
        return description;
    }

    /** The variable name a marker may spell differently (legacy dotted names), or null when unknown. */
    static String canonicalVariable(String name) {
        if (VARIABLES.contains(name)) {
            return name;
        }
        return ALIASES.get(name);
    }

    /** The environments a marker is evaluated in (one, or two when the patch release is open). */
    List<Map<String, String>> variants() {
        return variants;
    }

    /** Why a known variable has no value here. */
    static String whyUnknown(String variable) {
        return switch (variable) {
            case "platform_release", "platform_version" -> variable
                    + " describes the node's kernel, which is not known before deploy";
            default -> variable + " is not known for the target";
        };
    }
}

package dev.pinfleet.wheel;

import dev.pinfleet.manifest.Names;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A wheel file name per the binary distribution format:
 * {@code {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl}.
 * Compressed tag sets ("py2.py3") are expanded.
 */
public record WheelFilename(String distribution, String version, String build, List<String> pythonTags,
        List<String> abiTags, List<String> platformTags) {

    private static final Pattern FORM = Pattern.compile(
            "([A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)-([A-Za-z0-9_.!+]+)(?:-([0-9][A-Za-z0-9_.]*))?"
                    + "-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)-([A-Za-z0-9_.]+)\\.whl");

    /** Parses a file name, or throws IllegalArgumentException saying why it is not a wheel name. */
    public static WheelFilename parse(String filename) {
        String why = Names.checkFileName(filename);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        Matcher m = FORM.matcher(filename);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + Names.printable(filename)
                    + "' is not a wheel file name (name-version[-build]-python-abi-platform.whl)");
        }
        return new WheelFilename(m.group(1), m.group(2), m.group(3) == null ? "" : m.group(3),
                List.of(m.group(4).split("\\.")), List.of(m.group(5).split("\\.")), List.of(m.group(6).split("\\.")));
    }

    /** True when this wheel is for the given distribution name (PEP 503 normalized) and exact version. */
    public boolean isFor(String name, String exactVersion) {
        return Names.normalizeProject(distribution).equals(Names.normalizeProject(name))
                && version.equals(exactVersion.replace('-', '_'));
    }

    /** The name the wheel's .dist-info directory carries: {@code {distribution}-{version}.dist-info}. */
    public String distInfoPrefix() {
        return distribution + "-" + version;
    }
}

package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.wheel.Tags;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The fleet's interpreter as freeze sees it: CPython MAJOR.MINOR on a glibc (manylinux) or plain Linux platform. */
public final class Target {
    private static final Pattern MANYLINUX = Pattern.compile("manylinux_2_([0-9]+)_([a-z0-9_]+)");
    private static final Pattern LINUX = Pattern.compile("linux_([a-z0-9_]+)");

    private Target() {}

    /**
     * @param python "3.11"
     * @param platform most specific platform tag of the nodes: "manylinux_2_36_x86_64" (glibc 2.36) or "linux_x86_64"
     */
    public static Tags tags(String python, String platform) {
        if (!python.matches("[0-9]+\\.[0-9]+")) {
            throw new CliException("--python '" + python + "' is not MAJOR.MINOR (e.g. 3.11)", 2);
        }
        Matcher m = MANYLINUX.matcher(platform);
        Matcher l = LINUX.matcher(platform);
        java.util.List<String> plats;
        if (m.matches()) {
            plats = Tags.linuxPlatforms(m.group(2), 2, Integer.parseInt(m.group(1)));
        } else if (l.matches()) {
            plats = Tags.linuxPlatforms(l.group(1), 0, 0);
        } else {
            throw new CliException("--platform '" + platform + "' is not manylinux_2_N_ARCH or linux_ARCH", 2);
        }
        return Tags.forInterpreter("cp", python, "cp" + python.replace(".", ""), plats);
    }
}

package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.wheel.Tags;
import picocli.CommandLine.Option;

/** The fleet's interpreter and platform, as {@code freeze} and {@code mirror pull} choose wheels and evaluate markers for. */
public final class TargetOptions {
    @Option(names = "--python", defaultValue = "3.11",
            description = "Target interpreter MAJOR.MINOR or MAJOR.MINOR.PATCH; the patch release only matters to markers "
                    + "on python_full_version (default: ${DEFAULT-VALUE}).")
    String python;

    @Option(names = "--platform", defaultValue = "manylinux_2_36_x86_64",
            description = "Most specific platform tag of the fleet's nodes; also gives platform_machine to markers "
                    + "(default: ${DEFAULT-VALUE}).")
    String platform;

    /** The marker environment of the target; a malformed --python or --platform is a usage error. */
    public MarkerEnvironment environment() {
        try {
            return MarkerEnvironment.cpythonLinux(python, platform);
        } catch (IllegalArgumentException e) {
            throw new CliException("--python/--platform: " + e.getMessage(), 2);
        }
    }

    /** The interpreter's MAJOR.MINOR. */
    public String minor() {
        return python.replaceFirst("^([0-9]+\\.[0-9]+).*$", "$1");
    }

    /** The wheel tags the target installs. */
    public Tags tags() {
        return Target.tags(minor(), platform);
    }
}

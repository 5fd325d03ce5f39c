package dev.pinfleet.controller.mirror;

import dev.pinfleet.controller.CliException;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The mirror directory of a mirror command, given as every mirror command (and freeze) takes the mirror:
 * {@code --mirror DIR}. The older positional {@code DIR} is still accepted, hidden from the help, with a one-line
 * note on standard error.
 */
public final class MirrorDir {
    @Option(names = "--mirror", paramLabel = "DIR", description = "Mirror directory.")
    Path option;

    @Parameters(paramLabel = "DIR", arity = "0..1", hidden = true, description = "Mirror directory (old spelling of --mirror).")
    Path positional;

    @Spec(Spec.Target.MIXEE) CommandSpec command;

    /** The directory given; a usage error when none or two different ones are. */
    Path get() {
        Path dir = given();
        if (dir == null) {
            throw new CliException("which mirror? give its directory as --mirror DIR", 2);
        }
        return dir;
    }

    /** The directory given, or null when none is; a usage error when two different ones are. */
    Path given() {
        if (option != null && positional != null && !option.equals(positional)) {
            throw new CliException("two mirror directories given, --mirror " + option + " and " + positional
                    + "; give one, as --mirror DIR", 2);
        }
        if (option != null) {
            return option;
        }
        if (positional == null) {
            return null;
        }
        command.commandLine().getErr().println("pinfleet: note: the mirror as a bare DIR is deprecated; write "
                + command.qualifiedName() + " --mirror " + positional);
        command.commandLine().getErr().flush();
        return positional;
    }
}

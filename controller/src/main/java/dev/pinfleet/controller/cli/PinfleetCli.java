package dev.pinfleet.controller.cli;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.CertsCommand;
import dev.pinfleet.controller.freeze.FreezeCommand;
import dev.pinfleet.controller.keys.KeyCommands;
import dev.pinfleet.controller.mirror.MirrorCommands;
import dev.pinfleet.controller.rollout.DeployCommand;
import dev.pinfleet.controller.rollout.PlanCommand;
import dev.pinfleet.controller.rollout.RollbackCommand;
import dev.pinfleet.controller.rollout.StatusCommand;
import dev.pinfleet.controller.rollout.Terminal;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The operator's `pinfleet` command: the controller's composition root. */
@Command(name = "pinfleet", mixinStandardHelpOptions = true, versionProvider = PinfleetCli.Version.class,
        description = {"Deploy an application's exact, pinned Python dependency set to a fleet of web nodes.", "",
            "Typical flow: freeze -> sign -> plan -> deploy -> status (-> rollback)."},
        subcommands = {KeyCommands.Keygen.class, FreezeCommand.class, KeyCommands.Sign.class, KeyCommands.Verify.class,
            PlanCommand.class, DeployCommand.class, StatusCommand.class, RollbackCommand.class, CertsCommand.class,
            MirrorCommands.class, CommandLine.HelpCommand.class})
public final class PinfleetCli {
    /** Held strongly: java.util.logging forgets the level of a logger nobody references. */
    private static final java.util.logging.Logger PUBLISH_LOG = java.util.logging.Logger.getLogger("dev.pinfleet.mirror.publish");

    public static void main(String[] args) {
        // Publishing is recorded in the mirror's audit log and summarised by the command itself.
        PUBLISH_LOG.setLevel(java.util.logging.Level.WARNING);
        System.setProperty("java.util.logging.SimpleFormatter.format",
                System.getProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n"));
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true), Clock.systemUTC()));
    }

    /** Runs one command line; returns its exit code. Tests call this with their own writers and clock. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Clock clock) {
        return run(args, out, err, clock, Terminal.system());
    }

    /** Like {@link #run(String[], PrintWriter, PrintWriter, Clock)} with the operator's terminal (prompts, live progress). */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Clock clock, Terminal terminal) {
        return commandLine(out, err, clock, terminal).execute(args);
    }

    /** The whole command tree, wired to the given writers, clock and terminal, ready to execute. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err, Clock clock, Terminal terminal) {
        CommandLine cli = new CommandLine(new PinfleetCli(), new Factory(clock, terminal));
        shareVersion(cli, new Version());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof CliException ce) {
                err.println("pinfleet: " + ce.getMessage());
                err.flush();
                return ce.exitCode();
            }
            if (e instanceof java.io.IOException) {
                err.println("pinfleet: " + e.getMessage());
                err.flush();
                return 1;
            }
            throw e;
        });
        return cli;
    }

    /**
     * Gives every subcommand (at any depth, {@code help} aside) the root's version line and, where it has none,
     * a {@code -V, --version} option, so that {@code pinfleet COMMAND --version} prints the same line as
     * {@code pinfleet --version}.
     */
    private static void shareVersion(CommandLine command, CommandLine.IVersionProvider version) {
        for (CommandLine sub : command.getSubcommands().values()) {
            CommandSpec spec = sub.getCommandSpec();
            if (spec.helpCommand()) {
                continue;
            }
            if (spec.versionProvider() == null && spec.version().length == 0) {
                spec.versionProvider(version);
            }
            if (spec.options().stream().noneMatch(OptionSpec::versionHelp)) {
                String[] names = Stream.of("-V", "--version").filter(n -> !spec.optionsMap().containsKey(n))
                        .toArray(String[]::new);
                if (names.length > 0) {
                    spec.addOption(OptionSpec.builder(names).versionHelp(true).type(boolean.class)
                            .description("Print version information and exit.").build());
                }
            }
            shareVersion(sub, version);
        }
    }

    /** Gives commands that need them the injected clock and terminal. */
    private record Factory(Clock clock, Terminal terminal) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            try {
                return cls.getConstructor(Clock.class, Terminal.class).newInstance(clock, terminal);
            } catch (NoSuchMethodException e) {
                try {
                    return cls.getConstructor(Clock.class).newInstance(clock);
                } catch (NoSuchMethodException e2) {
                    return CommandLine.defaultFactory().create(cls);
                }
            }
        }
    }

    /** The version line of every command: the jar's Implementation-Version, or "development build". */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = PinfleetCli.class.getPackage().getImplementationVersion();
            return new String[] {"pinfleet " + (v == null ? "development build" : v)};
        }
    }
}

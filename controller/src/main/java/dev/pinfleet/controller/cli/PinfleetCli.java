package dev.pinfleet.controller.cli;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.CertsCommand;
import dev.pinfleet.controller.client.DeployCommand;
import dev.pinfleet.controller.client.PlanCommand;
import dev.pinfleet.controller.client.RedeployCommand;
import dev.pinfleet.controller.client.RecordCommands;
import dev.pinfleet.controller.client.RollbackCommand;
import dev.pinfleet.controller.client.RolloutCommands;
import dev.pinfleet.controller.client.StatusCommand;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.controller.config.ConfigCommand;
import dev.pinfleet.controller.config.OptionCatalog;
import dev.pinfleet.controller.config.Settings;
import dev.pinfleet.controller.freeze.FreezeCommand;
import dev.pinfleet.controller.keys.KeyCommands;
import dev.pinfleet.controller.mirror.MirrorCommands;
import dev.pinfleet.controller.service.ServeCommand;
import dev.pinfleet.controller.store.StoreException;
import dev.pinfleet.fs.IoErrors;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The operator's `pinfleet` command: the controller's composition root. */
@Command(name = "pinfleet", mixinStandardHelpOptions = true, versionProvider = PinfleetCli.Version.class,
        description = {"Deploy an application's exact, pinned Python dependency set to a fleet of web nodes.", "",
            "Typical flow: freeze -> sign -> plan -> deploy -> status (-> rollback -> redeploy); history, show and audit read the",
            "controller's records. Without --controller (or PINFLEET_CONTROLLER) the controller runs inside pinfleet on",
            ".pinfleet/records.db, found from the current directory upwards.", "",
            "Every option's value comes from its flag, else PINFLEET_KEY, else pinfleet.yml (found from the current",
            "directory upwards, or -c FILE), else its default: 'pinfleet config' shows what is in force and why."},
        subcommands = {KeyCommands.Keygen.class, FreezeCommand.class, KeyCommands.Sign.class, KeyCommands.Verify.class,
            PlanCommand.class, DeployCommand.class, StatusCommand.class, RollbackCommand.class, RedeployCommand.class,
            RolloutCommands.Watch.class, RolloutCommands.Cancel.class, RolloutCommands.Resume.class,
            RecordCommands.History.class, RecordCommands.Show.class, RecordCommands.Audit.class, CertsCommand.class,
            MirrorCommands.class, ServeCommand.class, ConfigCommand.class, CommandLine.HelpCommand.class})
public final class PinfleetCli {
    @CommandLine.Option(names = {"-c", "--config"}, paramLabel = "FILE", description = {
        "Settings file (default: PINFLEET_CONFIG, else pinfleet.yml found from the current directory upwards);",
        "see 'pinfleet config --help'."})
    Path config;

    /**
     * Held strongly: java.util.logging forgets the level of a logger nobody references. Publishing is recorded in
     * the mirror's audit log and summarised by the command itself; the records' connection pool and migrations say
     * what matters in the commands' own words.
     */
    private static final List<Logger> QUIET = List.of(Logger.getLogger("dev.pinfleet.mirror.publish"),
            Logger.getLogger("com.zaxxer.hikari"), Logger.getLogger("org.flywaydb"));

    public static void main(String[] args) {
        QUIET.forEach(l -> l.setLevel(Level.WARNING));
        System.setProperty("java.util.logging.SimpleFormatter.format",
                System.getProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n"));
        // Ctrl-C or SIGTERM while a command works: it detaches from a rollout, or records it interrupted.
        List<Runnable> onStop = new CopyOnWriteArrayList<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> List.copyOf(onStop).forEach(Runnable::run), "pinfleet-stop"));
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true), Clock.systemUTC(),
                Terminal.system(), CliContext.system(onStop)));
    }

    /** Runs one command line; returns its exit code. Tests call this with their own writers and clock. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Clock clock) {
        return run(args, out, err, clock, Terminal.system());
    }

    /** Like {@link #run(String[], PrintWriter, PrintWriter, Clock)} with the operator's terminal (prompts, live progress). */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Clock clock, Terminal terminal) {
        return run(args, out, err, clock, terminal, CliContext.system(new CopyOnWriteArrayList<>()));
    }

    /** Like the others, in {@code ctx}'s working directory and environment (where .pinfleet/ is looked for). */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Clock clock, Terminal terminal, CliContext ctx) {
        return commandLine(out, err, clock, terminal, ctx).execute(args);
    }

    /** The whole command tree, wired to the given writers, clock, terminal and context, ready to execute. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err, Clock clock, Terminal terminal, CliContext ctx) {
        PinfleetCli root = new PinfleetCli();
        CommandLine cli = new CommandLine(root, new Factory(clock, terminal, ctx));
        shareVersion(cli, new Version());
        // flag > PINFLEET_* > pinfleet.yml > default, for every option of every command (see ConfigCommand)
        Settings settings = new Settings(ctx, () -> root.config);
        settings.catalog(OptionCatalog.of(cli));
        cli.setDefaultValueProvider(settings);
        CommandLine.IParameterExceptionHandler usage = cli.getParameterExceptionHandler();
        cli.setParameterExceptionHandler((e, args) -> {
            if (e.getCause() instanceof CliException ce) { // pinfleet.yml or a PINFLEET_* variable: no usage text
                err.println("pinfleet: " + ce.getMessage());
                err.flush();
                return ce.exitCode();
            }
            return usage.handleParseException(e, args);
        });
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof CliException ce) {
                err.println("pinfleet: " + ce.getMessage());
                err.flush();
                return ce.exitCode();
            }
            if (e instanceof java.io.IOException io) {
                err.println("pinfleet: " + IoErrors.describe(io));
                err.flush();
                return 1;
            }
            if (e instanceof StoreException) {
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

    /** Gives commands that need them the injected clock, terminal and context. */
    private record Factory(Clock clock, Terminal terminal, CliContext ctx) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            try {
                return cls.getConstructor(Clock.class, Terminal.class, CliContext.class).newInstance(clock, terminal, ctx);
            } catch (NoSuchMethodException e0) {
                return create2(cls);
            }
        }

        private <K> K create2(Class<K> cls) throws Exception {
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

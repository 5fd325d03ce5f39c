package dev.pinfleet.agent;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.fs.IoErrors;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

/**
 * The agent binary's composition root: {@code pinfleet-agent [--config FILE] [--KEY VALUE …]}. Its command line is
 * parsed by picocli, as the {@code pinfleet} CLI's is: every key of {@link AgentConfig#KEYS} is an option
 * {@code --KEY VALUE} (or {@code --KEY=VALUE}) overriding the properties file, {@code --plaintext} is a flag, and
 * {@code -h, --help} and {@code -V, --version} print and exit.
 */
@Command(name = "pinfleet-agent", mixinStandardHelpOptions = true, versionProvider = AgentMain.Version.class,
        sortOptions = false, usageHelpWidth = 120,
        customSynopsis = "pinfleet-agent [--config FILE] [--KEY VALUE | --KEY=VALUE]... [--port-file FILE]"
                + " [--metrics-port-file FILE]",
        description = {"The pinfleet agent: verifies signed manifests pushed over gRPC, fetches wheels from the",
            "mirror(s), installs them into a new release and switches `current` atomically.", "",
            "Configuration: defaults < the properties file (--config; KEY=VALUE lines, the keys below) < flags."})
public final class AgentMain implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", order = -3,
            description = "Java properties file with any of the keys below")
    Path configFile;

    @Option(names = "--port-file", paramLabel = "FILE", order = -2,
            description = "write the bound gRPC port here once listening (useful with --listen HOST:0)")
    Path portFile;

    @Option(names = "--metrics-port-file", paramLabel = "FILE", order = -1,
            description = "write the bound metrics port here (-1 when metrics-listen is empty), before --port-file")
    Path metricsPortFile;

    private final CommandSpec spec;
    private final PrintWriter err;

    private AgentMain(PrintWriter err) {
        this.err = err;
        this.spec = CommandSpec.forAnnotatedObject(this);
        int order = 0;
        for (Map.Entry<String, String[]> k : AgentConfig.KEYS.entrySet()) {
            String description = k.getValue()[1] + (k.getValue()[0].isEmpty() ? "" : " [default: " + k.getValue()[0]
                    + "]");
            OptionSpec.Builder o = OptionSpec.builder("--" + k.getKey()).order(order++).description(description);
            if (k.getKey().equals("plaintext")) {
                // a flag: --plaintext alone is true; --plaintext false (or =false) is accepted too
                o.type(Boolean.class).arity("0..1").fallbackValue("true").paramLabel("true|false");
            } else {
                o.type(String.class).paramLabel("VALUE");
            }
            spec.addOption(o.build());
        }
    }

    /** The whole command line, printing to {@code out} and {@code err}; tests parse with it too. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        AgentMain main = new AgentMain(err);
        CommandLine cli = new CommandLine(main.spec);
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((e, args) -> {
            err.println("pinfleet-agent: " + e.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
            err.println("Try 'pinfleet-agent --help' for the options.");
            err.flush();
            return CommandLine.ExitCode.USAGE;
        });
        return cli;
    }

    /** The configuration a parsed command line gives: the file's keys, overridden by the flags given. */
    static AgentConfig config(ParseResult parsed) throws IOException {
        AgentMain main = (AgentMain) parsed.commandSpec().userObject();
        Map<String, String> overrides = new LinkedHashMap<>();
        for (String key : AgentConfig.KEYS.keySet()) {
            if (parsed.hasMatchedOption("--" + key)) {
                overrides.put(key, String.valueOf((Object) parsed.matchedOptionValue("--" + key, null)));
            }
        }
        return AgentConfig.load(main.configFile, overrides);
    }

    public static void main(String[] args) {
        System.setProperty("java.util.logging.SimpleFormatter.format",
                System.getProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n"));
        int code = commandLine(new PrintWriter(System.out, true), new PrintWriter(System.err, true)).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    /** Starts the agent and serves until the JVM is told to stop (SIGTERM: a graceful stop, see {@link Agent#close}). */
    @Override
    public Integer call() throws Exception {
        AgentConfig config;
        try {
            config = config(spec.commandLine().getParseResult());
        } catch (IllegalArgumentException | IOException e) {
            return fail("configuration: " + e.getMessage());
        }
        Agent agent;
        try {
            agent = new Agent(config, Clock.systemUTC()).start();
        } catch (IOException e) {
            // e.g. ROOT/store not writable: the path and the reason (the JDK puts the reason in the type only)
            return fail("cannot start: " + IoErrors.describe(e));
        } catch (IllegalArgumentException e) {
            // e.g. an unsafe root (a planted link, a world-writable directory): the message names the path and why
            return fail("cannot start: " + e.getMessage());
        }
        if (metricsPortFile != null) {
            writePort(metricsPortFile, agent.metricsPort());
        }
        if (portFile != null) {
            writePort(portFile, agent.port());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            stopped.countDown();
        }, "agent-shutdown"));
        stopped.await();
        return 0;
    }

    private int fail(String message) {
        err.println("pinfleet-agent: " + message);
        err.flush();
        return CommandLine.ExitCode.USAGE;
    }

    private static void writePort(Path file, int port) throws IOException {
        Durable.replace(file, (port + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    /** The version line: the jar's Implementation-Version, or "development build". */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Agent.version();
            return new String[] {"pinfleet-agent " + (v.equals("development") ? "development build" : v)};
        }
    }
}

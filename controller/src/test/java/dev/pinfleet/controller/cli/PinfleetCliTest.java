package dev.pinfleet.controller.cli;

import dev.pinfleet.controller.CliContext;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.client.Terminal;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PinfleetCliTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2024-05-06T07:08:09Z"), ZoneOffset.UTC);
    private static final String VERSION = new PinfleetCli.Version().getVersion()[0];

    private record Run(int code, String out, String err) {}

    private static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), CLOCK);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void rootPrintsTheVersionLine() {
        assertTrue(VERSION.startsWith("pinfleet "), VERSION);
        assertEquals(new Run(0, VERSION + System.lineSeparator(), ""), cli("--version"));
    }

    @Test
    void subcommandsPrintTheSameVersionLineAndListTheOptionInTheirHelp() {
        assertEquals(new Run(0, VERSION + System.lineSeparator(), ""), cli("freeze", "--version"));
        assertEquals(new Run(0, VERSION + System.lineSeparator(), ""), cli("mirror", "serve", "--version"));
        assertEquals(new Run(0, VERSION + System.lineSeparator(), ""), cli("certs", "issue", "-V"));
        Run help = cli("freeze", "--help");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("-V, --version") && help.out().contains("Print version information and exit."),
                help.out());
    }

    @Test
    void everyCommandPrintsTheVersionLine() {
        List<List<String>> paths = new ArrayList<>();
        collect(PinfleetCli.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()), CLOCK,
                Terminal.system(), CliContext.of(java.nio.file.Path.of("."), java.util.Map.of())), new ArrayList<>(), paths);
        assertTrue(paths.size() >= 15, "too few commands found: " + paths);
        for (List<String> path : paths) {
            List<String> args = new ArrayList<>(path);
            args.add("--version");
            assertEquals(new Run(0, VERSION + System.lineSeparator(), ""), cli(args.toArray(String[]::new)),
                    "pinfleet " + String.join(" ", args));
        }
    }

    /** The name path of every subcommand at any depth, {@code help} aside. */
    private static void collect(CommandLine command, List<String> path, List<List<String>> out) {
        command.getSubcommands().forEach((name, sub) -> {
            if (!sub.getCommandSpec().helpCommand()) {
                List<String> subPath = new ArrayList<>(path);
                subPath.add(name);
                out.add(subPath);
                collect(sub, subPath, out);
            }
        });
    }
}

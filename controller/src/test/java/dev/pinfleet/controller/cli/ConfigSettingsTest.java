package dev.pinfleet.controller.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.client.Terminal;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** flag > PINFLEET_* > pinfleet.yml (app section, then top level) > default, and the file's errors naming file:line. */
class ConfigSettingsTest {
    @TempDir Path dir;

    private CommandLine.ParseResult parse(Path cwd, Map<String, String> env, String... args) {
        StringWriter sink = new StringWriter();
        CommandLine cli = PinfleetCli.commandLine(new PrintWriter(sink), new PrintWriter(sink), Clock.systemUTC(),
                new Terminal(new BufferedReader(new StringReader("")), false, 120), CliContext.of(cwd, env));
        return cli.parseArgs(args);
    }

    private static Object value(CommandLine.ParseResult r, String option) {
        CommandLine.ParseResult sub = r;
        while (sub.hasSubcommand()) {
            sub = sub.subcommand();
        }
        return sub.commandSpec().findOption(option).getValue();
    }

    private record Run(int code, String out, String err) {}

    private Run run(Path cwd, Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), Clock.systemUTC(),
                new Terminal(new BufferedReader(new StringReader("")), false, 120), CliContext.of(cwd, env));
        return new Run(code, out.toString(), err.toString());
    }

    private Path yml(String... lines) throws Exception {
        Path f = dir.resolve("pinfleet.yml");
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    @Test
    void aFlagBeatsTheVariableWhichBeatsTheFileWhichBeatsTheDefault() throws Exception {
        yml("inventory: hosts.ini", "canary: 2", "batch: 10%", "apps:", "  shop:", "    canary: 3");
        Path sub = Files.createDirectories(dir.resolve("a/b"));
        // the only app's section applies: canary 3 from apps.shop, batch from the top level, forks the default
        CommandLine.ParseResult r = parse(sub, Map.of(), "deploy", "m.json");
        assertEquals(3, value(r, "--canary"));
        assertEquals("10%", value(r, "--batch"));
        assertEquals(50, value(r, "--forks"));
        assertEquals(dir.resolve("hosts.ini"), value(r, "--inventory"), "relative to the file, not the directory");
        r = parse(sub, Map.of("PINFLEET_CANARY", "4", "PINFLEET_FORKS", "7"), "deploy", "m.json");
        assertEquals(4, value(r, "--canary"));
        assertEquals(7, value(r, "--forks"));
        r = parse(sub, Map.of("PINFLEET_CANARY", "4"), "deploy", "m.json", "--canary", "5");
        assertEquals(5, value(r, "--canary"));
        // another app named on the command line: its section (none here) does not apply, the top level does
        r = parse(sub, Map.of(), "rollback", "--app", "other", "--key", "k");
        assertEquals(2, value(r, "--canary"));
    }

    @Test
    void theFileIsFoundUpwardsOrNamedByDashCOrTheVariable() throws Exception {
        yml("canary: 2", "inventory: hosts.ini");
        Path other = Files.createDirectories(dir.resolve("elsewhere"));
        Files.writeString(other.resolve("mine.yml"), "canary: 6\ninventory: hosts.ini\n");
        Path sub = Files.createDirectories(dir.resolve("x"));
        assertEquals(2, value(parse(sub, Map.of(), "deploy", "m.json"), "--canary"));
        assertEquals(6, value(parse(sub, Map.of(), "-c", other.resolve("mine.yml").toString(), "deploy", "m.json"), "--canary"));
        assertEquals(6, value(parse(sub, Map.of("PINFLEET_CONFIG", other.resolve("mine.yml").toString()), "deploy", "m.json"),
                "--canary"));
    }

    @Test
    void anUnknownKeyOrAWrongTypeIsAnErrorNamingFileAndLine() throws Exception {
        Path f = yml("inventory: hosts.ini", "canary: many");
        Run r = run(dir, Map.of(), "config");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("pinfleet: " + f + ":2: canary: expected a whole number"), r.err());

        yml("# settings", "inventroy: hosts.ini");
        r = run(dir, Map.of(), "deploy", "m.json");
        assertTrue(r.err().startsWith("pinfleet: " + f + ":2: unknown key 'inventroy'"), r.err());

        yml("apps:", "  shop:", "    health-check:", "      http-url: http://127.0.0.1:1/", "      retrys: 3");
        r = run(dir, Map.of(), "config");
        assertTrue(r.err().startsWith("pinfleet: " + f + ":5: unknown key 'retrys' in apps.shop.health-check"), r.err());

        yml("apps:", "  shop:", "    post-switch-hook:", "      argv: bin/reload");
        r = run(dir, Map.of(), "config");
        assertTrue(r.err().startsWith("pinfleet: " + f + ":4: apps.shop.post-switch-hook.argv: expected a non-empty list"),
                r.err());

        // One duration syntax on freeze and rollback: the same key now suits both (rollback goes on to its inventory).
        yml("expires-in: 2d");
        r = run(dir, Map.of(), "rollback", "--app", "shop", "--key", "k", "-i", "h.ini");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("pinfleet: inventory h.ini: not found"), r.err());

        yml("plaintext: yes please");
        r = run(dir, Map.of(), "config");
        assertTrue(r.err().startsWith("pinfleet: " + f + ":1: plaintext: expected true or false"), r.err());

        yml("archives: []");
        r = run(dir, Map.of(), "config");
        assertTrue(r.err().contains(f + ":1: unknown key 'archives' here: it belongs to an app"), r.err());
    }

    @Test
    void configWithoutAFileSaysSoAndShowsVariables() throws Exception {
        Run r = run(dir, Map.of("PINFLEET_INVENTORY", "/etc/hosts.yml"), "config");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("config file: (none)"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("inventory\\s+/etc/hosts.yml\\s+PINFLEET_INVENTORY")), r.out());
        Run keys = run(dir, Map.of(), "config", "--keys");
        assertTrue(keys.out().lines().anyMatch(l -> l.matches("max-failures\\s+PINFLEET_MAX_FAILURES\\s+.*\\bdeploy\\b.*")),
                keys.out());
    }
}

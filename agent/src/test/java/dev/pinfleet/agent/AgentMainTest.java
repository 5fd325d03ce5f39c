package dev.pinfleet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.config.AgentConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The agent's command line: picocli, every configuration key as --KEY VALUE, --plaintext a flag, help and version. */
class AgentMainTest {
    @TempDir Path dir;
    final StringWriter out = new StringWriter();
    final StringWriter err = new StringWriter();

    private CommandLine cli() {
        return AgentMain.commandLine(new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private AgentConfig parse(String... args) throws Exception {
        return AgentMain.config(cli().parseArgs(args));
    }

    @Test
    void everyKeyIsAnOptionAndFlagsOverrideTheFile() throws Exception {
        Path file = dir.resolve("agent.properties");
        Files.writeString(file, "mirrors=http://127.0.0.1:8080/\nplaintext=true\nfetch-tries=7\nnode=from-file\n");
        AgentConfig c = parse("--config", file.toString(), "--fetch-tries", "5", "--keep-releases=4",
                "--grpc-max-connections", "9");
        assertEquals(5, c.fetchTries(), "a flag overrides the file");
        assertEquals(4, c.keepReleases(), "--KEY=VALUE works too");
        assertEquals(9, c.grpcMaxConnections());
        assertEquals("from-file", c.node(), "the file's keys stay unless a flag names them");
        assertTrue(c.plaintext());
        assertEquals(Duration.ofSeconds(20), c.grpcHandshakeTimeout(), "unnamed keys keep their defaults");
    }

    @Test
    void plaintextIsAFlagThatStillTakesTrueOrFalse() throws Exception {
        String mirror = "--mirrors=http://127.0.0.1:8080/";
        assertTrue(parse(mirror, "--plaintext").plaintext(), "alone");
        assertTrue(parse("--plaintext", mirror).plaintext(), "before another option");
        assertTrue(parse(mirror, "--plaintext", "true").plaintext(), "as the scripts write it");
        assertTrue(parse(mirror, "--plaintext=true").plaintext());
        Path file = dir.resolve("agent.properties");
        Files.writeString(file, "plaintext=true\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> parse(mirror, "--config", file.toString(), "--plaintext", "false"));
        assertTrue(e.getMessage().startsWith("tls-cert: required"), "false overrides the file: " + e.getMessage());
    }

    @Test
    void helpListsEveryKeyWithItsDefaultAndVersionPrintsOneLine() {
        assertEquals(0, cli().execute("--help"));
        String help = out.toString();
        assertTrue(help.startsWith("Usage: pinfleet-agent [--config FILE] [--KEY VALUE | --KEY=VALUE]..."), help);
        for (var k : AgentConfig.KEYS.entrySet()) {
            assertTrue(help.contains("--" + k.getKey() + (k.getKey().equals("plaintext") ? "[=true|false]" : "=VALUE")),
                    k.getKey());
            if (!k.getValue()[0].isEmpty()) {
                assertTrue(help.contains("[default: " + k.getValue()[0] + "]"), k.getKey() + " default");
            }
        }
        for (String option : List.of("--config=FILE", "--port-file=FILE", "--metrics-port-file=FILE", "-h, --help",
                "-V, --version")) {
            assertTrue(help.contains(option), option);
        }
        out.getBuffer().setLength(0);
        assertEquals(0, cli().execute("--version"));
        assertEquals("pinfleet-agent development build", out.toString().strip());
        assertEquals("", err.toString());
    }

    @Test
    void badCommandLinesExitTwoNamingTheProblem() {
        assertEquals(2, cli().execute("--fetch-trie", "3"));
        assertTrue(err.toString().startsWith("pinfleet-agent: Unknown options: '--fetch-trie', '3'"), err.toString());
        assertTrue(err.toString().contains("--fetch-tries"), "suggests the near miss: " + err);
        assertTrue(err.toString().contains("Try 'pinfleet-agent --help'"), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, cli().execute("--root"));
        assertTrue(err.toString().contains("Missing required parameter for option '--root'"), err.toString());
        err.getBuffer().setLength(0);
        assertEquals(2, cli().execute("--mirrors", "http://127.0.0.1:8080/", "--plaintext", "--listen", "10.1.2.3:7400"));
        assertEquals("pinfleet-agent: configuration: plaintext=true is only allowed on a loopback listen address,"
                + " not 10.1.2.3:7400", err.toString().strip());
        assertFalse(out.toString().contains("Usage"), "errors are short: " + out);
    }
}

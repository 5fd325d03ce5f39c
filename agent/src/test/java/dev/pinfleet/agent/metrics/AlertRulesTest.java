package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The shipped alert rules ({@code ansible/files/prometheus/pinfleet-alerts.yml}) pass the real {@code promtool check
 * rules}, and their unit tests ({@code pinfleet-alerts.test.yml}: each alert silent before its {@code for} delay and
 * firing after it, on synthetic series) pass {@code promtool test rules}. RealPrometheusTest loads the same file into
 * a running Prometheus.
 */
class AlertRulesTest {
    static final Path PROMTOOL = Path.of("/usr/bin/promtool");
    static final Path DIR = Path.of("..", "ansible", "files", "prometheus");

    @Test
    void theShippedRulesPassPromtoolCheckAndTheirUnitTests() throws Exception {
        assumeTrue(Files.isExecutable(PROMTOOL), PROMTOOL + " is not installed (Debian package prometheus;"
                + " ./install-deps.sh installs it): the alert rules were not checked");
        String check = promtool("check", "rules", "pinfleet-alerts.yml");
        assertTrue(check.contains("SUCCESS: 4 rules found"), check);
        String test = promtool("test", "rules", "pinfleet-alerts.test.yml");
        assertTrue(test.contains("SUCCESS"), test);
    }

    /** Runs promtool in the rules' directory (the test file names the rules file relatively); exit 0 or fails. */
    private static String promtool(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(PROMTOOL.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(DIR.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool " + String.join(" ", args) + " did not finish");
        assertEquals(0, p.exitValue(), "promtool " + String.join(" ", args) + ":\n" + out);
        return out;
    }
}

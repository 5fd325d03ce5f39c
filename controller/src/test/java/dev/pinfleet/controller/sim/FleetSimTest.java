package dev.pinfleet.controller.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.fetch.Sleeper;
import dev.pinfleet.agent.sim.HollowInstall;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fleet simulator at a small size: 200 hollow nodes (the real agent service, install simulated) in this JVM and
 * a real rollout over them by `pinfleet deploy` in its own JVM. No duration is asserted (bench/fleet-sim.sh measures).
 */
class FleetSimTest {
    private static final int NODES = 200;
    /** Generous: a busy 2-core box starts 200 nodes and two JVMs in well under a minute. */
    private static final Duration MAX_WALL = Duration.ofMinutes(5);

    private static FleetSim.Options options(double failureRate, String maxFailures, boolean status) {
        return new FleetSim.Options(NODES, "1", "10%", 50, maxFailures, Duration.ofMillis(20), failureRate, 7, 1, 64,
                "512m", MAX_WALL, status, 1, null);
    }

    @Test
    void everyNodeEndsOkAndStatusSeesTheWholeFleet(@TempDir Path dir) throws Exception {
        FleetSim.Result r = new FleetSim(options(0, "0", true), dir).run();

        assertEquals(0, r.exitCode(), String.join("\n", r.deployOutput()));
        assertEquals(Map.of("NODE_OK", NODES), r.outcomes());
        assertEquals(0, r.offRelease(), "nodes whose `current` disagrees with their outcome");
        assertEquals(11, r.waveSeconds().size(), "a canary and ten batches of 10%");
        assertEquals(0, r.statusExit(), "status of the whole fleet: none unreachable, none drifted\n"
                + String.join("\n", r.statusOutput()));
        // past ReportTable.LISTED nodes status lists only nodes that need a look (none here) and counts the rest
        String statusText = String.join("\n", r.statusOutput());
        String digest = r.statusOutput().get(r.statusOutput().size() - 1).replaceFirst(".*; expected shop ", "");
        assertTrue(digest.matches("[0-9a-f]{16}"), statusText);
        assertTrue(r.statusOutput().contains("shop by release: " + NODES + " " + digest), statusText);
        assertTrue(r.statusOutput().contains("shop by last deploy: " + NODES + " ok"), statusText);
        assertEquals(NODES + " node(s): 0 unreachable, 0 drifted; expected shop " + digest,
                r.statusOutput().get(r.statusOutput().size() - 1), statusText);
        assertTrue(r.statusOutput().size() < 10, statusText);
        assertEquals(NODES, r.statusJsonNodes(), "status --json holds every node");
        assertEquals(NODES, r.statusJsonAnswered(), "every node answered");
        assertTrue(r.events() >= NODES * 5L, "each node streams its phases and its report: " + r.events());
        // a fleet past ReportTable.LISTED nodes: a line per wave and the summary, not a line per node
        assertTrue(r.deployOutput().size() < 80, String.join("\n", r.deployOutput()));
        assertTrue(r.deployOutput().stream().anyMatch(l -> l.equals("outcomes: " + NODES + " ok")),
                String.join("\n", r.deployOutput()));
    }

    @Test
    void simulatedFailuresAreTheOnesThePredicatePicksAndCountAgainstTheBudget(@TempDir Path dir) throws Exception {
        double rate = 0.05;
        HollowInstall install = new HollowInstall(Duration.ZERO, rate, 7, Sleeper.system());
        List<String> failing = IntStream.rangeClosed(1, NODES).mapToObj(i -> String.format(Locale.ROOT, "sim%05d", i))
                .filter(install::fails).toList();
        assertTrue(!failing.isEmpty() && failing.size() < NODES / 4, "the seed picks a few nodes: " + failing);

        // a budget of exactly the failures: the rollout runs to its end, and ends FAILED (exit 1)
        FleetSim.Result within = new FleetSim(options(rate, Integer.toString(failing.size()), true),
                dir.resolve("within")).run();
        assertEquals(1, within.exitCode(), String.join("\n", within.deployOutput()));
        assertEquals(failing, within.failedNodes());
        assertEquals(Map.of("NODE_OK", NODES - failing.size(), "NODE_FAILED", failing.size()), within.outcomes());
        assertEquals(0, within.offRelease(), "failed nodes keep `current` unchanged, ok ones are on the release");
        assertTrue(within.deployOutput().stream().anyMatch(l -> l.contains(failing.get(0) + ": install: node "
                + failing.get(0) + ": simulated install failure")), String.join("\n", within.deployOutput()));
        // status lists exactly the failed nodes (not on the release the others run, last deploy failed), counts the rest
        String statusText = String.join("\n", within.statusOutput());
        assertEquals(1, within.statusExit(), statusText);
        List<String> rows = within.statusOutput().stream().filter(l -> l.startsWith("sim")).toList();
        assertEquals(failing, rows.stream().map(l -> l.split(" ")[0]).toList(), statusText);
        assertTrue(rows.stream().allMatch(l -> l.contains(" failed ") && l.contains("DRIFT: expected ")
                && l.contains("simulated install failure")), statusText);
        String digest = within.statusOutput().get(within.statusOutput().size() - 1).replaceFirst(".*; expected shop ", "");
        assertTrue(within.statusOutput().contains("shop by release: " + (NODES - failing.size()) + " " + digest + ", "
                + failing.size() + " no release"), statusText);
        assertTrue(within.statusOutput().contains("shop by last deploy: " + (NODES - failing.size()) + " ok, "
                + failing.size() + " failed"), statusText);
        assertEquals(NODES + " node(s): 0 unreachable, " + failing.size() + " drifted; expected shop " + digest,
                within.statusOutput().get(within.statusOutput().size() - 1), statusText);
        assertEquals(NODES, within.statusJsonAnswered(), "every node answered");

        // two failures fewer allowed: the budget is spent at the last but one failing node. With this seed the last
        // failing node (sim00182) is alone in the last wave, so that wave is never started and is skipped whatever the
        // timing. (With one fewer, the budget was spent in the last wave itself: whether any node was left to skip
        // then depended on how fast that wave's nodes had been started, and a quiet machine started them all.)
        List<String> last = failing.subList(failing.size() - 1, failing.size());
        FleetSim.Result spent = new FleetSim(options(rate, Integer.toString(failing.size() - 2), false),
                dir.resolve("spent")).run();
        assertEquals(1, spent.exitCode(), String.join("\n", spent.deployOutput()));
        assertEquals(failing.subList(0, failing.size() - 1), spent.failedNodes(), "skipped: " + last);
        assertTrue(spent.deployOutput().stream().anyMatch(l -> l.startsWith("stopped: failure budget spent")),
                String.join("\n", spent.deployOutput()));
        assertEquals(0, spent.offRelease());
    }
}

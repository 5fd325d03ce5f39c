package dev.pinfleet.controller.e2e;

import dev.pinfleet.testing.LoopbackPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that does not answer when a rollout begins (here: a port nothing listens on) is reported UNREACHABLE, with
 * its address and the reason, before any node changes; it counts against --max-failures at once, so a budget it
 * exhausts starts no node at all (every node's `current` as it was), and it is never started on. The same through
 * the embedded controller and through a served one: they share the rollout code.
 */
class UnreachableAtStartTest {
    @TempDir Path dir;
    FleetHarness h;
    ServedController served;
    int closedPort;
    /**
     * Holds web4's port, bound but not listening, so that a connection to it is refused for the whole test: a port
     * merely closed again could be taken by another program on a shared machine meanwhile.
     */
    Socket reserved;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        h.start(3);
        reserved = LoopbackPorts.refusing();
        closedPort = reserved.getLocalPort();
        // last in the inventory: in the last batch, which a rollout without the check would reach last
        h.inventoryLines.put("web4", "web4 ansible_host=127.0.0.1 pinfleet_agent_port=" + closedPort);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
        h.close();
        reserved.close();
    }

    @Test
    void embeddedController() throws Exception {
        unreachableNodeIsReportedFirstAndSpendsTheBudgetAtOnce(List.of());
    }

    @Test
    void servedController() throws Exception {
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("served-records.db").toString());
        unreachableNodeIsReportedFirstAndSpendsTheBudgetAtOnce(served.as("alice"));
    }

    private void unreachableNodeIsReportedFirstAndSpendsTheBudgetAtOnce(List<String> controller) throws Exception {
        Manifest v1 = h.manifest(1, h.app1);
        Manifest v2 = h.manifest(2, h.app2);
        String where = "web4 (127.0.0.1:" + closedPort + "): unreachable: nothing answers at 127.0.0.1:" + closedPort;

        // Within a budget of one: reported before the canary starts, the others deploy, web4 is never started on.
        FleetReport within = h.deploy(h.signed(v1), args(controller, "--max-failures", "1"), 1);
        Map<String, NodeReport> n = byNode(within);
        NodeReport gone = n.get("web4");
        assertEquals(NodeOutcome.NODE_UNREACHABLE, gone.getOutcome(), gone.toString());
        assertTrue(gone.getError().startsWith(where), gone.getError());
        assertEquals(0, gone.getStartedUnixMs(), "never started on: " + gone);
        assertEquals(3, gone.getWave(), "keeps the wave it was planned in");
        assertEquals("", within.getStopped(), "one failure is within a budget of one");
        for (String ok : List.of("web1", "web2", "web3")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(ok).getOutcome(), ok + ": " + n.get(ok).getError());
            assertEquals(FleetHarness.release(v1), h.fleet.current(ok, "shop"), ok);
        }
        List<String> lines = h.lastRun.out().lines().toList();
        int reported = indexOf(lines, l -> l.matches("\\S+ +web4 +UNREACHABLE .*"));
        int canary = indexOf(lines, l -> l.matches("\\S+ canary: web1"));
        assertTrue(reported >= 0 && canary > reported, "web4 is reported before the canary starts:\n" + h.lastRun.out());
        assertTrue(h.lastRun.out().contains("asked 4 node(s) before changing any: 1 unreachable (web4), not started on;"
                + " failures 1 of a budget of 1"), h.lastRun.out());

        // A budget of none: the unreachable node spends it before any node changes, so no node starts at all.
        FleetReport spent = h.deploy(h.signed(v2), args(controller, "--max-failures", "0"), 1);
        n = byNode(spent);
        assertEquals(NodeOutcome.NODE_UNREACHABLE, n.get("web4").getOutcome(), n.get("web4").toString());
        assertTrue(n.get("web4").getError().startsWith(where), n.get("web4").getError());
        assertEquals("failure budget spent: 1 node(s) failed, at most 0 allowed", spent.getStopped());
        for (String name : List.of("web1", "web2", "web3")) {
            assertEquals(NodeOutcome.NODE_SKIPPED, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertEquals(FleetHarness.release(v1), h.fleet.current(name, "shop"), name + "'s current is unchanged");
        }
        assertEquals(0, h.mirror.requests(h.app2.getFilename()), "no agent fetched anything of v2");
        assertFalse(h.lastRun.out().contains("canary:"), "no wave started:\n" + h.lastRun.out());
        assertTrue(h.lastRun.out().contains("stopping: failure budget spent"), h.lastRun.out());
    }

    private static List<String> args(List<String> controller, String... strategy) {
        List<String> a = new ArrayList<>(List.of("--canary", "1", "--batch", "1"));
        a.addAll(List.of(strategy));
        a.addAll(controller);
        return a;
    }

    private static int indexOf(List<String> lines, java.util.function.Predicate<String> p) {
        for (int i = 0; i < lines.size(); i++) {
            if (p.test(lines.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private static Map<String, NodeReport> byNode(FleetReport r) {
        return r.getNodesList().stream().collect(Collectors.toMap(NodeReport::getNode, Function.identity()));
    }
}

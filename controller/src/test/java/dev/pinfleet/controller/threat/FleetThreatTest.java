package dev.pinfleet.controller.threat;

import static dev.pinfleet.controller.threat.ThreatFleet.byNode;
import static dev.pinfleet.controller.threat.ThreatFleet.release;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 7, fleet cases: what the fleet does when the controller, an agent or the network between them goes away
 * mid-rollout. Every case ends with the nodes on a complete release ({@code current} either unchanged or the new
 * one, never half) and every agent root clean ({@link CleanRoot}).
 */
class FleetThreatTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir Path dir;
    ThreatFleet t;

    @BeforeEach
    void setUp() throws Exception {
        t = new ThreatFleet(dir);
    }

    @AfterEach
    void tearDown() {
        t.close();
    }

    @Test
    void controllerKilledAfterTheFirstBatchIsResumedFromItsRecordAndFinishesTheRest() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        FakeMirror fast = t.mirror();
        FakeMirror held = t.mirror(FakeMirror.Reply.gated(gate)); // keeps the second batch's download of mypkg 2.0 in flight
        Map<String, Agent> agents = new LinkedHashMap<>();
        for (int i = 1; i <= 6; i++) {
            String name = "web" + i;
            agents.put(name, t.agent(name, i == 4 || i == 5 ? held.baseUri() : fast.baseUri(), Map.of()));
        }
        Manifest v1 = t.manifest(1, t.app1);
        Manifest v2 = t.manifest(2, t.app2);
        t.deploy(t.signed(v1), dir.resolve("v1.json"), List.of("--plaintext"), 0);
        Path signed = t.signed(v2);
        List<String> strategy = List.of("--plaintext", "--canary", "1", "--batch", "2"); // web1 | web2 web3 | web4 web5 | web6

        Path killedReport = dir.resolve("killed.json");
        String out;
        int status;
        try (ControllerProcess c = ControllerProcess.start(t.deployArgs(signed, killedReport, strategy), dir)) {
            c.awaitLine("the second batch starting", l -> l.matches("\\S+ batch 2 of 3: web4 web5"), WAIT);
            c.awaitLine("web4 fetching", l -> l.matches("\\S+ +web4 +fetch"), WAIT);
            c.awaitLine("web5 fetching", l -> l.matches("\\S+ +web5 +fetch"), WAIT);
            status = c.kill();
            out = c.output();
        }
        assertEquals(137, status, "killed by SIGKILL");
        assertTrue(out.lines().anyMatch(l -> l.matches("\\S+ +web2 +ok in .*")) && out.lines().anyMatch(l -> l.matches(
                "\\S+ +web3 +ok in .*")), "the first batch had finished:\n" + out);
        assertFalse(Files.exists(killedReport), "a killed controller leaves no report behind");
        for (String n : List.of("web1", "web2", "web3")) {
            assertEquals(release(v2), t.current(n), n);
        }
        assertEquals(release(v1), t.current("web6"), "web6 was never started");
        // The agents of the batch in flight finish their deploys without the controller.
        assertTrue(agents.get("web4").engine().busy() && agents.get("web5").engine().busy());
        gate.countDown();
        ThreatFleet.await("web4 and web5 to finish the deploys the killed controller started", WAIT,
                () -> !agents.get("web4").engine().busy() && !agents.get("web5").engine().busy());

        // The next command says the rollout was interrupted; `pinfleet resume ID` continues it from its record.
        long id = Long.parseLong(out.lines().filter(l -> l.startsWith("deploying shop serial 2 ")).findFirst()
                .orElseThrow().replaceAll(".*: rollout (\\d+) by .*", "$1"));
        ThreatFleet.Run next = t.cli(List.of("history", "--app", "shop"));
        assertTrue(next.err().contains("pinfleet: rollout " + id + " of shop serial 2 (by ")
                && next.err().contains("was interrupted: 3 of 6 node(s) ended (3 ok), 2 in flight, 1 pending; `pinfleet"
                        + " resume " + id + "` continues it"), next.all());
        assertTrue(next.out().lines().anyMatch(l -> l.matches(" +" + id + " +shop .* interrupted .*")), next.out());
        int fastBefore = fast.requests();
        int heldBefore = held.requests();
        Path againReport = dir.resolve("again.json");
        ThreatFleet.Run resumed = t.cli(List.of("resume", Long.toString(id), "--progress", "plain", "--report",
                againReport.toString()));
        assertEquals(0, resumed.code(), resumed.all());
        assertTrue(resumed.out().contains("resume asked the 2 node(s) in flight when the controller stopped: web4 is on"
                + " the release; web5 is on the release"), resumed.out());
        FleetReport again = dev.pinfleet.controller.Json.read(againReport, FleetReport.newBuilder()).build();
        Map<String, NodeReport> n = byNode(again);
        for (String name : List.of("web1", "web2", "web3", "web6")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertFalse(n.get(name).getReconciled(), name);
        }
        for (String name : List.of("web4", "web5")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertTrue(n.get(name).getReconciled(), name + " was found on the release, not deployed again");
        }
        assertEquals(heldBefore, held.requests(), "web4 and web5 fetched nothing again");
        assertEquals(fastBefore + 1, fast.requests(), "only web6 fetched, and only mypkg 2.0 (core-lib was in its store)");
        assertEquals(List.of(), again.getInconsistenciesList());
        // One record: every node started once, one final report.
        ThreatFleet.Run show = t.cli(List.of("show", Long.toString(id), "--json"));
        assertEquals(0, show.code(), show.all());
        for (String name : agents.keySet()) {
            assertEquals(1, show.out().split("\"node_started\": \\{\\s*\"node\": \"" + name + "\"", -1).length - 1,
                    name + " started once:\n" + show.out());
        }
        assertEquals(1, show.out().split("\"finished\": \\{", -1).length - 1, "one final report");
        for (String name : agents.keySet()) {
            assertEquals(release(v2), t.current(name), name);
            CleanRoot.assertNothingHalfWritten(t.root(name));
        }
    }

    @Test
    void agentKilledAndRestartedMidDeployIsReportedAsDroppedAndRetryFailedBringsItToTheRelease() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        FakeMirror fast = t.mirror();
        FakeMirror held = t.mirror(FakeMirror.Reply.gated(gate));
        t.agent("web1", fast.baseUri(), Map.of());
        t.agent("web2", fast.baseUri(), Map.of());
        AgentProcess web3 = t.agentProcess("web3", held.baseUri().toString(), Map.of(), List.of());
        t.listen("web3", "127.0.0.1", web3.port());
        Manifest v1 = t.manifest(1, t.app1);
        Manifest v2 = t.manifest(2, t.app2);
        t.deploy(t.signed(v1), dir.resolve("v1.json"), List.of("--plaintext"), 0);
        Path signed = t.signed(v2);
        Path report = dir.resolve("v2.json");
        List<String> args = t.deployArgs(signed, report, List.of("--plaintext", "--max-failures", "1"));

        StringWriter progress = new StringWriter();
        CompletableFuture<ThreatFleet.Run> rollout = CompletableFuture.supplyAsync(() -> t.cli(args, progress));
        ThreatFleet.await("web3 downloading mypkg 2.0, and the controller seeing it fetch", WAIT,
                () -> held.requests(t.app2.getFilename()) > 0
                        && progress.toString().lines().anyMatch(l -> l.matches("\\S+ +web3 +fetch")));
        web3.process().destroyForcibly();
        assertTrue(web3.process().waitFor(10, TimeUnit.SECONDS), "web3 gone after SIGKILL");
        AgentProcess restarted = t.agentProcess("web3", held.baseUri().toString(),
                Map.of("listen", "127.0.0.1:" + web3.port()), List.of());
        ThreatFleet.Run run = rollout.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertEquals(1, run.code(), run.all());
        FleetReport r = dev.pinfleet.controller.Json.read(report, FleetReport.newBuilder()).build();
        Map<String, NodeReport> n = byNode(r);
        NodeReport dropped = n.get("web3");
        assertEquals(NodeOutcome.NODE_FAILED, dropped.getOutcome(), dropped.toString());
        assertTrue(dropped.getError().startsWith("web3 (127.0.0.1:" + web3.port()
                + "): connection dropped mid-deploy (last seen: phase fetch"), dropped.getError());
        assertEquals(NodeOutcome.NODE_OK, n.get("web1").getOutcome(), n.get("web1").getError());
        assertEquals(NodeOutcome.NODE_OK, n.get("web2").getOutcome(), n.get("web2").getError());
        assertEquals("", r.getStopped(), "one failure is within a budget of one");
        assertTrue(run.out().contains("outcomes: 2 ok, 1 FAILED"), run.out());
        assertEquals(release(v1), t.current("web3"), "web3 restarted on its old release");
        CleanRoot.assertNothingHalfWritten(t.root("web3"));

        gate.countDown();
        FleetReport retry = t.deploy(signed, dir.resolve("retry.json"),
                List.of("--plaintext", "--retry-failed", report.toString()), 0);
        assertEquals(List.of("web3"), retry.getNodesList().stream().map(NodeReport::getNode).toList());
        assertEquals(NodeOutcome.NODE_OK, retry.getNodes(0).getOutcome(), retry.getNodes(0).getError());
        assertTrue(restarted.process().isAlive());
        for (String name : List.of("web1", "web2", "web3")) {
            assertEquals(release(v2), t.current(name), name);
            CleanRoot.assertNothingHalfWritten(t.root(name));
        }
    }

    /**
     * web4 runs as a real agent process inside a network namespace the test creates, joined by a veth pair, with a
     * mirror of its own inside; cutting the link leaves it running but unreachable. Where no namespace can be made
     * (no root, no iproute2), the same node is cut off by freezing its process (SIGSTOP) instead: its port still
     * takes connections but nothing answers, so the question asked before the rollout changes any node times out.
     */
    @Test
    void agentCutOffFromTheNetworkCountsAgainstTheBudgetAndTheOthersProceed() throws Exception {
        Path ca = dir.resolve("ca");
        List<List<String>> certs = new ArrayList<>(List.of(List.of("certs", "init", ca.toString()),
                List.of("certs", "issue", "--role", "controller", "controller", "--dir", ca.toString())));
        for (int i = 1; i <= 4; i++) {
            certs.add(List.of("certs", "issue", "--role", "agent", "web" + i, "--dir", ca.toString()));
        }
        for (List<String> c : certs) {
            ThreatFleet.Run r = t.cli(c);
            assertEquals(0, r.code(), r.all());
        }
        FakeMirror fast = t.mirror();
        Severable web4 = severableAgent("web4", ThreatFleet.tls(ca, "web4"), fast);
        t.listen("web4", web4.host(), web4.agent().port()); // first in the inventory: the canary
        for (int i = 1; i <= 3; i++) {
            t.agent("web" + i, fast.baseUri(), ThreatFleet.tls(ca, "web" + i));
        }
        Manifest v1 = t.manifest(1, t.app1);
        Manifest v2 = t.manifest(2, t.app2);
        // Cut off by the namespace, a connection fails after ARP gives up (~3 s here): well within the stuck timeout.
        int stuckSeconds = web4.namespace() ? 10 : 5;
        List<String> tlsArgs = List.of("--tls-dir", ca.toString(), "--stuck-timeout", Integer.toString(stuckSeconds));
        t.deploy(t.signed(v1), dir.resolve("v1.json"), tlsArgs, 0);
        assertEquals(release(v1), t.current("web4"), "web4 was reachable before the cut");

        web4.cut().run();
        Path signed = t.signed(v2);
        Path first = dir.resolve("cut-budget-0.json");
        List<String> a = new ArrayList<>(tlsArgs);
        a.addAll(List.of("--canary", "1", "--max-failures", "0"));
        long t0 = System.nanoTime();
        FleetReport spent = t.deploy(signed, first, a, 1);
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(40).toNanos(), "the cut-off node was given up, not waited for");
        Map<String, NodeReport> n = byNode(spent);
        assertCutOff(n.get("web4"), web4);
        assertEquals("failure budget spent: 1 node(s) failed, at most 0 allowed", spent.getStopped());
        for (String name : List.of("web1", "web2", "web3")) {
            assertEquals(NodeOutcome.NODE_SKIPPED, n.get(name).getOutcome(), name);
        }

        Path second = dir.resolve("cut-budget-1.json");
        List<String> b = new ArrayList<>(tlsArgs);
        b.addAll(List.of("--canary", "1", "--max-failures", "1", "--retry-failed", first.toString()));
        FleetReport within = t.deploy(signed, second, b, 1);
        n = byNode(within);
        assertCutOff(n.get("web4"), web4);
        assertEquals("", within.getStopped(), "one failure is within a budget of one");
        for (String name : List.of("web1", "web2", "web3")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertEquals(release(v2), t.current(name), name);
        }
        assertEquals(release(v1), t.current("web4"), "the cut-off node stays on its release");

        web4.restore().run();
        List<String> c = new ArrayList<>(tlsArgs);
        c.addAll(List.of("--retry-failed", second.toString()));
        FleetReport back = t.deploy(signed, dir.resolve("restored.json"), c, 0);
        assertEquals(List.of("web4"), back.getNodesList().stream().map(NodeReport::getNode).toList());
        assertEquals(NodeOutcome.NODE_OK, back.getNodes(0).getOutcome(), back.getNodes(0).getError());
        for (String name : List.of("web1", "web2", "web3", "web4")) {
            assertEquals(release(v2), t.current(name), name);
            CleanRoot.assertNothingHalfWritten(t.root(name));
        }
    }

    /**
     * Either way it is cut off, web4 does not answer the question a rollout asks every node before changing any: it is
     * found unreachable then, and never started on.
     */
    private static void assertCutOff(NodeReport r, Severable node) {
        String where = "web4 (" + node.host() + ":" + node.agent().port() + "): ";
        assertEquals(NodeOutcome.NODE_UNREACHABLE, r.getOutcome(), r.toString());
        assertTrue(r.getError().startsWith(where + "unreachable: "), r.getError());
        assertEquals(0, r.getStartedUnixMs(), "never started on: " + r);
    }

    /** A real agent process that the test can cut off from the network and reconnect. */
    private record Severable(AgentProcess agent, String host, boolean namespace, IoStep cut, IoStep restore) {}

    /**
     * Starts {@code name} inside a new network namespace (its mirror: the wheels served inside), cut off by taking
     * the link down; or, where no namespace can be made here (it says why on stdout), on loopback with
     * {@code mirror}, cut off by freezing its process (SIGSTOP: its port takes connections, nothing answers).
     */
    private Severable severableAgent(String name, Map<String, String> tls, FakeMirror mirror) throws Exception {
        NetworkNamespace ns;
        try {
            ns = t.closeLater(NetworkNamespace.create());
        } catch (IOException e) {
            System.out.println("FleetThreatTest: no network namespace possible here (" + e.getMessage()
                    + "); cutting " + name + " off by freezing its process instead");
            AgentProcess p = t.agentProcess(name, mirror.baseUri().toString(), tls, List.of());
            long pid = p.process().pid();
            return new Severable(p, "127.0.0.1", false, () -> signal("STOP", pid), () -> signal("CONT", pid));
        }
        Map<String, String> cfg = new LinkedHashMap<>(tls);
        cfg.put("listen", ns.nsAddress + ":0");
        AgentProcess p = t.agentProcess(name, serveWheelsInside(ns), cfg, ns.launcher());
        return new Severable(p, ns.nsAddress, true, ns::cut, ns::restore);
    }

    /** Serves the wheels directory inside the namespace (python's http.server on its loopback); returns the URL. */
    private String serveWheelsInside(NetworkNamespace ns) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(ns.launcher());
        cmd.addAll(List.of("python3", "-u", "-m", "http.server", "8080", "--bind", "127.0.0.1", "--directory",
                t.wheels.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        t.closeLater(() -> {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        });
        BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                return in.readLine();
            } catch (IOException e) {
                return "(" + e.getMessage() + ")";
            }
        });
        String line;
        try {
            line = first.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new AssertionError("the mirror inside namespace " + ns.name + " did not start: " + e);
        }
        assertTrue(line != null && line.startsWith("Serving HTTP on 127.0.0.1 port 8080"),
                "the mirror inside namespace " + ns.name + " did not start: " + line);
        return "http://127.0.0.1:8080/";
    }

    private static void signal(String sig, long pid) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).redirectErrorStream(true).start();
        if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
            throw new IOException("kill -" + sig + " " + pid + " failed: "
                    + new String(k.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    @FunctionalInterface
    private interface IoStep {
        void run() throws IOException, InterruptedException;
    }
}

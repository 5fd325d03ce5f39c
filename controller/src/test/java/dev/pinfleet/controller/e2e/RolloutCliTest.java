package dev.pinfleet.controller.e2e;

import dev.pinfleet.testing.LoopbackPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.manifest.ManifestCodec;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.Descriptors;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rollouts through the real CLI to ten (or more) real agents on loopback. */
class RolloutCliTest {
    @TempDir Path dir;
    FleetHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
    }

    /** Ports kept refusing connections until the test ends (bound, never listening). */
    final java.util.List<java.net.Socket> refusing = new java.util.ArrayList<>();

    @AfterEach
    void tearDown() {
        LoopbackPorts.release(refusing);
        h.close();
    }

    private static Map<String, NodeReport> byNode(FleetReport r) {
        return r.getNodesList().stream().collect(Collectors.toMap(NodeReport::getNode, Function.identity()));
    }

    @Test
    void canaryThenBatchesInOrderAndASpentBudgetLeavesTheRestUntouched() throws Exception {
        h.start(4);
        h.start("web5", Map.of("environment", "staging")); // refuses the unbound manifest: fails in verify
        for (int i = 6; i <= 10; i++) {
            h.start("web" + i, Map.of());
        }
        FleetReport r = h.deploy(h.signed(h.manifest(1, h.app1)),
                List.of("--canary", "1", "--batch", "3", "--max-failures", "0"), 1);
        Map<String, NodeReport> n = byNode(r);
        assertEquals(List.of(0, 1, 1, 1, 2, 2, 2, 3, 3, 3), r.getNodesList().stream().map(NodeReport::getWave).toList());
        // every wave starts after the one before it ended
        for (int wave = 1; wave <= 2; wave++) {
            int w = wave;
            long prevEnd = r.getNodesList().stream().filter(x -> x.getWave() == w - 1)
                    .mapToLong(x -> x.getStartedUnixMs() + x.getMillis()).max().orElseThrow();
            long start = r.getNodesList().stream().filter(x -> x.getWave() == w).mapToLong(NodeReport::getStartedUnixMs)
                    .min().orElseThrow();
            assertTrue(start >= prevEnd, "wave " + w + " started " + start + " before wave " + (w - 1) + " ended " + prevEnd);
        }
        for (String ok : List.of("web1", "web2", "web3", "web4", "web6", "web7")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(ok).getOutcome(), ok + ": " + n.get(ok).getError());
        }
        assertEquals(NodeOutcome.NODE_FAILED, n.get("web5").getOutcome());
        assertTrue(n.get("web5").getError().contains("bound to environment"), n.get("web5").getError());
        assertTrue(r.getStopped().startsWith("failure budget spent: 1 node(s) failed, at most 0 allowed"), r.getStopped());
        for (String skipped : List.of("web8", "web9", "web10")) {
            assertEquals(NodeOutcome.NODE_SKIPPED, n.get(skipped).getOutcome());
            assertTrue(n.get(skipped).getError().contains("not started: failure budget spent"), n.get(skipped).getError());
            assertFalse(Files.exists(h.fleet.root(skipped).resolve("apps")), skipped + " was never touched");
        }
        String out = h.lastRun.out();
        assertTrue(out.contains("canary: web1\n"), out);
        assertTrue(out.contains("batch 1 of 3: web2 web3 web4\n"), out);
        assertTrue(out.contains("stopping: failure budget spent"), out);
        assertFalse(out.contains("batch 3 of 3"), "the last batch never started:\n" + out);
        assertTrue(out.contains("outcomes: 6 ok, 1 FAILED, 3 skipped"), out);
        assertTrue(out.contains("fleet consistency: every successful node reports"), out);
        assertEquals(0, r.getInconsistenciesCount(), r.getInconsistenciesList().toString());
    }

    @Test
    void unreachableAndStuckNodesCountAgainstTheBudgetAndRetryFailedRerunsOnlyThem() throws Exception {
        h.start(8);
        refusing.add(LoopbackPorts.refusing());
        int closedPort = refusing.get(0).getLocalPort();
        h.inventoryLines.put("web9", "web9 ansible_host=127.0.0.1 pinfleet_agent_port=" + closedPort);
        // web10's first mirror holds every download far longer than the stuck timeout; the real one comes second.
        try (FakeMirror slow = FakeMirror.start()) {
            for (var a : List.of(h.core, h.app1)) {
                slow.put(a.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(a.getFilename())),
                        FakeMirror.Reply.delayed(Duration.ofSeconds(60)));
            }
            Agent stuck = h.start("web10", Map.of("mirrors", slow.baseUri() + "," + h.mirror.baseUri()));
            Path signed = h.signed(h.manifest(1, h.app1));
            // 5 s without an event: the healthy nodes send one at least every second while they work, so a busy
            // machine has four seconds to spare before one of them could be taken for stuck; web10 is given up as
            // STUCK (waited for, it would have ended OK once its agent gave up on the first mirror, after 30 s).
            FleetReport r = h.deploy(signed, List.of("--max-failures", "2", "--stuck-timeout", "5"), 1);
            Map<String, NodeReport> n = byNode(r);
            assertEquals(NodeOutcome.NODE_UNREACHABLE, n.get("web9").getOutcome());
            assertTrue(n.get("web9").getError().startsWith("web9 (127.0.0.1:" + closedPort + "): unreachable"),
                    n.get("web9").getError());
            assertEquals(NodeOutcome.NODE_STUCK, n.get("web10").getOutcome());
            assertTrue(n.get("web10").getError().contains("stuck: no event from the agent for 5 s (last seen: phase fetch"),
                    n.get("web10").getError());
            assertEquals(8, r.getNodesList().stream().filter(x -> x.getOutcome() == NodeOutcome.NODE_OK).count());
            assertEquals("", r.getStopped(), "two failures are within a budget of two");
            assertTrue(h.lastRun.out().contains("outcomes: 8 ok, 1 UNREACHABLE, 1 STUCK"), h.lastRun.out());
            assertNull(h.fleet.current("web10", "shop"), "the stuck node switched to nothing");

            // Fix both: an agent now listens on web9's port; web10's slow mirror goes away (failover to the real one).
            refusing.get(0).close(); // let go of web9's port for its agent
            h.start("web9", Map.of("listen", "127.0.0.1:" + closedPort));
            h.inventoryLines.put("web9", "web9 ansible_host=127.0.0.1 pinfleet_agent_port=" + closedPort);
            slow.close();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (stuck.engine().busy() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            Path first = dir.resolve("first.json");
            dev.pinfleet.controller.Json.write(first, r);
            int before = h.mirror.requests();
            FleetReport again = h.deploy(signed, List.of("--retry-failed", first.toString()), 0);
            assertEquals(List.of("web9", "web10"), again.getNodesList().stream().map(NodeReport::getNode).toList());
            assertEquals(first.toString(), again.getRetryOf());
            assertTrue(again.getNodesList().stream().allMatch(x -> x.getOutcome() == NodeOutcome.NODE_OK
                    || x.getOutcome() == NodeOutcome.NODE_UNCHANGED), again.toString());
            assertTrue(h.mirror.requests() - before <= 2, "only web9 downloads (2 wheels)");
            for (int i = 1; i <= 10; i++) {
                CleanRoot.assertNothingHalfWritten(h.fleet.root("web" + i));
            }
        }
    }

    @Test
    void rollbackSwitchesWithoutAMirrorRequestAndANodeThatNeverHadTheReleaseFetchesIt() throws Exception {
        h.start(10);
        Path inv = h.inventory("");
        h.deploy(h.signed(h.manifest(1, h.app1)), List.of("--limit", "web*:!web10"), 0);
        FleetReport v2 = h.deploy(h.signed(h.manifest(2, h.app2)), List.of(), 0);
        assertTrue(v2.getNodesList().stream().allMatch(x -> x.getOutcome() == NodeOutcome.NODE_OK), v2.toString());
        String r1 = ManifestCodec.releaseId(ManifestCodec.contentDigest(h.manifest(1, h.app1)));

        int app1Requests = h.mirror.requests(h.app1.getFilename());
        int coreRequests = h.mirror.requests(h.core.getFilename());
        int all = h.mirror.requests();
        Path report = dir.resolve("rollback.json");
        FleetHarness.Run rb = h.cli("rollback", "--inventory", inv.toString(), "--plaintext", "--app", "shop",
                "--to", "1", "--key", h.key.toString(), "--trusted", h.fleet.trustedKeys().toString(),
                "-o", dir.resolve("rb.signed.json").toString(), "--report", report.toString());
        assertEquals(0, rb.code(), rb.all());
        assertTrue(rb.out().contains("rolling shop back to release " + r1 + " (serial 1, from web1) as serial 3"), rb.out());
        for (int i = 1; i <= 10; i++) {
            assertEquals(r1, h.fleet.current("web" + i, "shop"), "web" + i);
        }
        assertEquals(app1Requests + 1, h.mirror.requests(h.app1.getFilename()),
                "only web10, which never had release 1, fetched mypkg 1.0");
        assertEquals(coreRequests, h.mirror.requests(h.core.getFilename()), "core-lib was in every store");
        assertEquals(all + 1, h.mirror.requests(), "the nine nodes that kept release 1 asked the mirror nothing");

        // Without --to: back to the release before the current one, i.e. release 2, again without any download.
        int before = h.mirror.requests();
        FleetHarness.Run back = h.cli("rollback", "--inventory", inv.toString(), "--plaintext", "--app", "shop",
                "--key", h.key.toString(), "-o", dir.resolve("rb2.signed.json").toString(),
                "--report", dir.resolve("rb2.json").toString());
        assertEquals(0, back.code(), back.all());
        String r2 = ManifestCodec.releaseId(ManifestCodec.contentDigest(h.manifest(2, h.app2)));
        assertTrue(back.out().contains("as serial 4"), back.out());
        assertEquals(r2, h.fleet.current("web3", "shop"));
        assertEquals(before, h.mirror.requests());
    }

    @Test
    void anUnhealthyReleaseIsRevertedByItsAgentAndStatusShowsTheDrift() throws Exception {
        h.start(10);
        Path inv = h.inventory("");
        Manifest v1 = h.manifest(1, h.app1);
        h.deploy(h.signed(v1), List.of(), 0);
        HealthCheck check = HealthCheck.newBuilder().setTimeoutSeconds(10).setCommand(HookCommand.newBuilder()
                .addAllArgv(List.of("bin/python", "-c",
                        "import os, sys; print('health of', os.environ['PINFLEET_NODE']);"
                                + " sys.exit(os.environ['PINFLEET_NODE'] == 'web3')"))).build();
        Manifest v2 = h.manifest(2, h.app2).toBuilder().setHealthCheck(check).build();
        FleetReport r = h.deploy(h.signed(v2), List.of("--max-failures", "1"), 1);
        Map<String, NodeReport> n = byNode(r);
        assertEquals(NodeOutcome.NODE_REVERTED, n.get("web3").getOutcome());
        assertTrue(n.get("web3").getError().contains("switched back to release"), n.get("web3").getError());
        assertEquals("health of web3", n.get("web3").getReport().getChecks(0).getOutput().strip());
        assertTrue(h.lastRun.out().contains("REVERTED"), h.lastRun.out());
        assertEquals(9, r.getNodesList().stream().filter(x -> x.getOutcome() == NodeOutcome.NODE_OK).count());
        String r1 = ManifestCodec.releaseId(ManifestCodec.contentDigest(v1));
        assertEquals(r1, h.fleet.current("web3", "shop"));

        FleetHarness.Run s = h.cli("status", "--inventory", inv.toString(), "--plaintext");
        assertEquals(1, s.code(), s.all());
        String d2 = ManifestCodec.contentDigest(v2);
        List<String> drift = s.out().lines().filter(l -> l.contains("DRIFT")).toList();
        assertEquals(1, drift.size(), s.out());
        assertTrue(drift.get(0).startsWith("web3 ") && drift.get(0).contains("reverted")
                && drift.get(0).contains("DRIFT: expected " + d2.substring(0, 16)), drift.get(0));
        assertTrue(s.out().contains("10 node(s): 0 unreachable, 1 drifted; expected shop " + d2.substring(0, 16)), s.out());

        String d1 = ManifestCodec.contentDigest(v1);
        FleetHarness.Run expect = h.cli("status", "--inventory", inv.toString(), "--plaintext", "--expect",
                d1.substring(0, 12), "--limit", "web3,web4");
        assertEquals(1, expect.code());
        assertTrue(expect.out().lines().anyMatch(l -> l.startsWith("web4 ") && l.contains("DRIFT")), expect.out());
        assertTrue(expect.out().lines().anyMatch(l -> l.startsWith("web3 ") && !l.contains("DRIFT")), expect.out());
    }

    @Test
    void pauseAfterCanaryWaitsForTheOperatorAndPlanShowsADiffWithoutDownloading() throws Exception {
        h.start(3);
        Path inv = h.inventory("");
        Path signed = h.signed(h.manifest(1, h.app1));
        Path report = dir.resolve("r.json");
        FleetHarness.Run no = h.cliWithInput("n\n", "deploy", signed.toString(), "--inventory", inv.toString(), "--plaintext",
                "--canary", "1", "--pause-after-canary", "--report", report.toString(), "--progress", "plain");
        assertEquals(1, no.code(), no.all());
        assertTrue(no.out().contains("canary done: 1 of 1 ok. Continue with the other 2 node(s)? [y/N]"), no.out());
        FleetReport r = dev.pinfleet.controller.Json.read(report, FleetReport.newBuilder()).build();
        assertEquals("the operator stopped the rollout after the canary", r.getStopped());
        assertEquals(List.of(NodeOutcome.NODE_OK, NodeOutcome.NODE_SKIPPED, NodeOutcome.NODE_SKIPPED),
                r.getNodesList().stream().map(NodeReport::getOutcome).toList());

        int before = h.mirror.requests();
        FleetHarness.Run plan = h.cli("plan", h.signed(h.manifest(2, h.app2)).toString(), "--inventory", inv.toString(),
                "--plaintext");
        assertEquals(0, plan.code(), plan.all());
        assertEquals(before, h.mirror.requests(), "plan downloads nothing");
        String out = plan.out();
        assertTrue(out.contains("web1: fetch 1 ("), out);
        assertTrue(out.contains("  ~ mypkg 1.0 -> 2.0"), out);
        assertTrue(out.contains("web2: fetch 2 ("), out);
        assertTrue(out.contains("  + core-lib 1.0"), out);

        FleetHarness.Run json = h.cli("deploy", signed.toString(), "--inventory", inv.toString(), "--plaintext",
                "--retry-failed", report.toString(), "--json", "--report", dir.resolve("j.json").toString());
        assertEquals(0, json.code(), json.all());
        List<String> lines = json.out().lines().toList();
        assertTrue(lines.stream().allMatch(l -> l.startsWith("{\"type\":\"") && l.endsWith("}")), json.out());
        assertTrue(lines.get(lines.size() - 1).startsWith("{\"type\":\"report\""), json.out());
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"type\":\"event\"") && l.contains("\"phase_started\":\"FETCH\"")),
                json.out());
        assertEquals(2, lines.stream().filter(l -> l.startsWith("{\"type\":\"node_finished\"")).count());
        // one key style and numbers as numbers, in the events and in the report file alike
        for (String l : lines) {
            JsonObject o = JsonParser.parseString(l).getAsJsonObject();
            assertTrue(o.get("at_unix_ms").getAsJsonPrimitive().isNumber(), l);
            switch (o.get("type").getAsString()) {
                case "event" -> assertJsonShape(DeployEvent.getDescriptor(), o.get("event"), l);
                case "node_finished" -> assertJsonShape(NodeReport.getDescriptor(), o.get("report"), l);
                case "report" -> assertJsonShape(FleetReport.getDescriptor(), o.get("report"), l);
                default -> assertTrue(o.get("wave").getAsJsonPrimitive().isNumber(), l);
            }
        }
        String file = Files.readString(dir.resolve("j.json"));
        assertJsonShape(FleetReport.getDescriptor(), JsonParser.parseString(file), file);
        assertTrue(file.matches("(?s).*\n  \"serial\": [0-9]+,\n.*"), file);
    }

    /** Every key a proto field name (snake_case), every integer field a JSON number, at any depth. */
    private static void assertJsonShape(Descriptors.Descriptor d, JsonElement json, String all) {
        JsonObject o = json.getAsJsonObject();
        for (String key : o.keySet()) {
            Descriptors.FieldDescriptor f = d.findFieldByName(key);
            assertTrue(f != null, "key '" + key + "' is not a field name of " + d.getName() + ": " + all);
            List<JsonElement> values = new ArrayList<>();
            if (f.isRepeated()) {
                o.get(key).getAsJsonArray().forEach(values::add);
            } else {
                values.add(o.get(key));
            }
            for (JsonElement v : values) {
                switch (f.getJavaType()) {
                    case INT, LONG -> assertTrue(v.getAsJsonPrimitive().isNumber(), key + " as a string in " + all);
                    case MESSAGE -> {
                        if (!f.getMessageType().getFile().getPackage().equals("google.protobuf")) {
                            assertJsonShape(f.getMessageType(), v, all);
                        }
                    }
                    default -> { }
                }
            }
        }
    }
}

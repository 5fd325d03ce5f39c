package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.threat.ControllerProcess;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pinfleet controller serve} as a real process with real agents on loopback and the real CLI as its client:
 * killed mid-rollout and started again it resumes the rollout from its records; an operator detaches and reattaches;
 * a second rollout of the app is refused naming the first, or waits behind it; a cancel starts no new node and stops
 * the deploy in flight on its agent; a node whose agent runs another deploy fails with the typed reason busy.
 */
class ControllerServiceTest {
    /** Generous: every wait below ends as soon as its condition holds; the limit only bounds a broken run. */
    static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir Path dir;
    FleetHarness h;
    FakeMirror held;
    CountDownLatch gate = new CountDownLatch(1);
    ServedController served;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        held = h.heldMirror(gate, WAIT);
    }

    @AfterEach
    void tearDown() throws Exception {
        gate.countDown();
        if (served != null) {
            served.close();
        }
        held.close();
        h.close();
    }

    private FleetHarness.Run cli(List<String> args, List<String> more) {
        return h.cli(args, more);
    }

    private List<String> deploy(Path signed, String... extra) throws IOException {
        return h.deployArgs(signed, extra);
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        FleetHarness.await(what, WAIT, condition);
    }

    private static Map<String, NodeReport> byNode(FleetReport r) {
        return r.getNodesList().stream().collect(Collectors.toMap(NodeReport::getNode, Function.identity()));
    }

    private static String release(Manifest m) {
        return FleetHarness.release(m);
    }

    private static int count(String text, String regex) {
        return text.split(regex, -1).length - 1;
    }

    @Test
    void aControllerKilledMidRolloutResumesTheRolloutWhenStartedAgainAndDeploysNoNodeTwice() throws Exception {
        for (int i = 1; i <= 6; i++) {
            // The held mirror keeps mypkg 2.0 back until the test lets it go: long past the agents' default 30 s
            // without a byte on a loaded machine, when a retry would count as a second fetch.
            h.start("web" + i, i == 4 || i == 5 ? Map.of("mirrors", held.baseUri().toString(), "fetch-idle-timeout",
                    "300s") : Map.of());
        }
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("served-records.db").toString());
        Manifest v1 = h.manifest(1, h.app1);
        Manifest v2 = h.manifest(2, h.app2);
        FleetHarness.Run first = cli(deploy(h.signed(v1)), served.as("alice"));
        assertEquals(0, first.code(), first.all());

        Path report = dir.resolve("v2.json");
        List<String> args = deploy(h.signed(v2), "--canary", "1", "--batch", "2", "--report", report.toString(),
                "--message", "mypkg 2.0");
        CompletableFuture<FleetHarness.Run> rollout = CompletableFuture.supplyAsync(() -> cli(args, served.as("alice")));
        await("web4 and web5 fetching mypkg 2.0 (the second batch in flight)", () -> held.requests(h.app2.getFilename()) >= 2);
        assertEquals(137, served.kill(), "SIGKILL");
        FleetHarness.Run detached = rollout.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(3, detached.code(), "the CLI detaches when its controller goes:\n" + detached.all());
        assertTrue(detached.err().contains("lost the connection to the controller at 127.0.0.1:" + served.port()),
                detached.all());
        assertFalse(Files.exists(report), "no report while the rollout is not over");
        for (String n : List.of("web1", "web2", "web3")) {
            assertEquals(release(v2), h.fleet.current(n, "shop"), n);
        }
        assertEquals(release(v1), h.fleet.current("web6", "shop"), "web6 was never started");
        assertTrue(h.agents.get("web4").engine().busy() && h.agents.get("web5").engine().busy());

        // Started again on the same records, it finds the rollout, waits for web4 and web5 to end their deploys
        // (they are still fetching), finds them on the release, and deploys web6.
        served.startProcess();
        gate.countDown();
        FleetHarness.Run watched = cli(List.of("watch", "2", "--progress", "plain", "--report", report.toString()),
                served.as("bob"));
        assertEquals(0, watched.code(), watched.all());
        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        Map<String, NodeReport> n = byNode(r);
        for (String name : List.of("web1", "web2", "web3", "web6")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertFalse(n.get(name).getReconciled(), name);
        }
        for (String name : List.of("web4", "web5")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertTrue(n.get(name).getReconciled(), name + " was found on the release");
        }
        assertEquals(2, held.requests(h.app2.getFilename()), "web4 and web5 fetched mypkg 2.0 once each");
        assertEquals("alice", r.getOperator());
        assertEquals("mypkg 2.0", r.getMessage());
        assertEquals(List.of(), r.getInconsistenciesList());

        FleetHarness.Run show = cli(List.of("show", "2", "--json"), served.as("bob"));
        assertEquals(0, show.code(), show.all());
        for (int i = 1; i <= 6; i++) {
            assertEquals(1, count(show.out(), "\"node_started\": \\{\\s*\"node\": \"web" + i + "\""), "web" + i
                    + " started once:\n" + show.out());
        }
        assertEquals(1, count(show.out(), "\"finished\": \\{"), "exactly one final report");
        assertTrue(show.out().contains("\"reason\": \"taken over by a controller that found it interrupted\""), show.out());
        assertTrue(show.out().contains("\"epoch\": 2,"), "the second controller wrote with the next epoch");
        FleetHarness.Run history = cli(List.of("history", "--app", "shop"), served.as("bob"));
        assertTrue(history.out().lines().anyMatch(l -> l.matches(" +2 +shop +2 .* alice .* succeeded .*6 ok .*mypkg 2.0")),
                history.out());
        for (int i = 1; i <= 6; i++) {
            assertEquals(release(v2), h.fleet.current("web" + i, "shop"));
            CleanRoot.assertNothingHalfWritten(h.fleet.root("web" + i));
        }
    }

    @Test
    void ctrlCDetachesWithoutStoppingTheRolloutAndWatchReattaches() throws Exception {
        h.start("web1", Map.of("mirrors", held.baseUri().toString()));
        h.start("web2", Map.of());
        h.start("web3", Map.of());
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("served-records.db").toString());
        Manifest v2 = h.manifest(2, h.app2);
        List<String> args = new ArrayList<>(deploy(h.signed(v2)));
        args.addAll(served.as("alice"));
        String out;
        try (ControllerProcess cli = ControllerProcess.start(args, dir)) {
            cli.awaitLine("web1 fetching", l -> l.matches("\\S+ +web1 +fetch"), WAIT);
            cli.interrupt();
            out = cli.output();
        }
        assertTrue(out.contains("pinfleet: detached from rollout 1, which goes on at the controller at 127.0.0.1:"
                + served.port() + "; `pinfleet watch 1` reattaches"), out);
        assertTrue(h.agents.get("web1").engine().busy(), "web1's deploy goes on");
        gate.countDown();
        Path report = dir.resolve("watched.json");
        FleetHarness.Run watched = cli(List.of("watch", "1", "--progress", "plain", "--report", report.toString()),
                served.as("alice"));
        assertEquals(0, watched.code(), watched.all());
        assertTrue(watched.out().contains("3 of 3 node(s) ok"), watched.out());
        assertTrue(watched.out().contains("rollout 1: succeeded in "), watched.out());
        assertEquals(release(v2), h.fleet.current("web1", "shop"));
    }

    @Test
    void aSecondRolloutOfTheAppIsRefusedNamingTheFirstAndWithQueueWaitsBehindIt() throws Exception {
        h.start("web1", Map.of("mirrors", held.baseUri().toString()));
        h.start("web2", Map.of());
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("served-records.db").toString());
        Manifest v2 = h.manifest(2, h.app2);
        Manifest v3 = h.manifest(3, h.app2).toBuilder().setCompileBytecode(true).build();
        CompletableFuture<FleetHarness.Run> first = CompletableFuture.supplyAsync(() -> {
            try {
                return cli(deploy(h.signed(v2)), served.as("alice"));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        await("web1 fetching mypkg 2.0", () -> held.requests(h.app2.getFilename()) >= 1);

        FleetHarness.Run refused = cli(deploy(h.signed(v3)), served.as("bob"));
        assertEquals(1, refused.code(), refused.all());
        assertTrue(refused.err().contains("refused by the controller at 127.0.0.1:" + served.port() + ": rollout 1 of shop"
                + " serial 2 is running, submitted by alice at "), refused.err());
        // web1 is held at its download; web2 may or may not have finished yet, so either count is right
        assertTrue(java.util.regex.Pattern.compile("[01] of 2 node\\(s\\) ended( \\([^)]*\\))?, [12] in flight").matcher(refused.err())
                .find() && refused.err().contains("--queue waits behind it, `pinfleet watch 1` follows it"), refused.err());

        CompletableFuture<FleetHarness.Run> queued = CompletableFuture.supplyAsync(() -> {
            try {
                return cli(deploy(h.signed(v3), "--queue", "--message", "after alice"), served.as("bob"));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        await("bob's rollout queued", () -> {
            FleetHarness.Run a = cli(List.of("audit", "--json"), served.as("bob"));
            return a.out().contains("\"action\": \"queue\"");
        });
        assertFalse(queued.isDone(), "it waits");
        gate.countDown();
        assertEquals(0, first.get(WAIT.toSeconds(), TimeUnit.SECONDS).code());
        FleetHarness.Run second = queued.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(0, second.code(), second.all());
        assertTrue(second.out().contains("queued behind rollout 1 of shop by alice"), second.out());
        assertTrue(second.out().contains("rollout 2: running (its turn came)"), second.out());
        assertEquals(release(v3), h.fleet.current("web1", "shop"));

        FleetHarness.Run audit = cli(List.of("audit"), served.as("bob"));
        List<String> lines = audit.out().lines().toList();
        assertTrue(lines.get(1).matches(".* bob +queue +2 +shop serial 3 .*after alice; queued behind rollout 1"),
                audit.out());
        assertTrue(lines.get(2).matches(".* alice +deploy +1 +shop serial 2 .*"), audit.out());
    }

    @Test
    void cancelMidRolloutStartsNoNewNodeAndStopsTheDeployInFlightOnItsAgent() throws Exception {
        h.start("web1", Map.of("mirrors", held.baseUri().toString()));
        h.start("web2", Map.of());
        h.start("web3", Map.of());
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("served-records.db").toString());
        Manifest v1 = h.manifest(1, h.app1);
        Manifest v2 = h.manifest(2, h.app2);
        FleetHarness.Run first = cli(deploy(h.signed(v1)), served.as("alice"));
        assertEquals(0, first.code(), first.all());

        Path report = dir.resolve("cancelled.json");
        List<String> args = deploy(h.signed(v2), "--canary", "1", "--report", report.toString());
        CompletableFuture<FleetHarness.Run> rollout = CompletableFuture.supplyAsync(() -> cli(args, served.as("alice")));
        // web1, the canary, fetches mypkg 2.0 from the held mirror, which answers only when the gate opens: the
        // gate stays shut, so only the agent's own stop can end web1's deploy.
        await("web1 fetching mypkg 2.0", () -> held.requests(h.app2.getFilename()) >= 1);
        FleetHarness.Run cancel = cli(List.of("cancel", "2", "--progress", "plain"), served.as("bob"));
        assertEquals(1, cancel.code(), "a cancelled rollout did not succeed:\n" + cancel.all());
        assertTrue(cancel.out().contains("rollout 2: cancelled"), cancel.all());
        FleetHarness.Run followed = rollout.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(1, followed.code(), followed.all());

        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        Map<String, NodeReport> n = byNode(r);
        NodeReport web1 = n.get("web1");
        assertEquals(NodeOutcome.NODE_CANCELLED, web1.getOutcome(), web1.getError());
        assertEquals(FailureReason.REASON_CANCELLED, web1.getReport().getReason(), web1.getError());
        assertTrue(web1.getError().contains("(rollout 2: cancelled by bob)"), web1.getError());
        for (String name : List.of("web2", "web3")) {
            assertEquals(NodeOutcome.NODE_SKIPPED, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
        }
        assertEquals("cancelled by bob", r.getStopped());
        assertEquals(1, held.requests(h.app2.getFilename()), "no other node started");
        assertFalse(h.agents.get("web1").engine().busy(), "web1's deploy ended without the mirror ever answering");
        for (int i = 1; i <= 3; i++) {
            assertEquals(release(v1), h.fleet.current("web" + i, "shop"), "web" + i + ": current unchanged");
            CleanRoot.assertNothingHalfWritten(h.fleet.root("web" + i));
        }
        FleetHarness.Run show = cli(List.of("show", "2", "--json"), served.as("bob"));
        assertTrue(show.out().contains("deploy '2' stops before its switch"), "the agent's answer is on record:\n"
                + show.out());
        FleetHarness.Run history = cli(List.of("history", "--app", "shop", "--json"), served.as("bob"));
        JsonArray rows = JsonParser.parseString(history.out()).getAsJsonArray();
        assertEquals(2, rows.size(), history.out());
        JsonObject newest = rows.get(0).getAsJsonObject();
        for (String field : List.of("id", "app", "serial", "digest", "operator", "message", "outcome", "started", "ended",
                "nodes")) {
            assertTrue(newest.has(field), field + " in " + newest);
        }
        assertEquals("2", newest.get("id").getAsString(), "newest first");
        assertEquals("ROLLOUT_CANCELLED", newest.get("outcome").getAsString());
        assertEquals(1, newest.getAsJsonObject("nodes").get("cancelled").getAsInt(), newest.toString());
        assertEquals(2, newest.getAsJsonObject("nodes").get("skipped").getAsInt(), newest.toString());
    }

    @Test
    void aNodeBusyWithAnotherDeployFailsWithTheTypedReasonBusy() throws Exception {
        h.start("web1", Map.of("mirrors", held.baseUri().toString()));
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("served-records.db").toString());
        Manifest shop = h.manifest(2, h.app2);
        CompletableFuture<FleetHarness.Run> first = CompletableFuture.supplyAsync(() -> {
            try {
                return cli(deploy(h.signed(shop)), served.as("alice"));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        await("web1 fetching mypkg 2.0", () -> held.requests(h.app2.getFilename()) >= 1);
        // Another app on the same node: the controller lets it through (one rollout per app and environment), and
        // the agent, which runs one deploy at a time, refuses it.
        Manifest blog = h.manifest(1, h.app1).toBuilder().setApp("blog").build();
        Path report = dir.resolve("blog.json");
        FleetHarness.Run second = cli(deploy(h.signed(blog), "--report", report.toString()), served.as("bob"));
        assertEquals(1, second.code(), second.all());
        NodeReport web1 = Json.read(report, FleetReport.newBuilder()).build().getNodes(0);
        assertEquals(NodeOutcome.NODE_FAILED, web1.getOutcome(), web1.getError());
        assertEquals(FailureReason.REASON_BUSY, web1.getReport().getReason(), web1.getError());
        assertTrue(web1.getError().contains("web1 (127.0.0.1:") && web1.getError().contains("busy: node web1 is already"
                + " running a deploy"), web1.getError());
        assertTrue(second.out().lines().anyMatch(l -> l.matches("web1 +FAILED .* busy +web1 .*")), second.out());
        gate.countDown();
        assertEquals(0, first.get(WAIT.toSeconds(), TimeUnit.SECONDS).code());
        assertEquals(release(shop), h.fleet.current("web1", "shop"));
    }
}

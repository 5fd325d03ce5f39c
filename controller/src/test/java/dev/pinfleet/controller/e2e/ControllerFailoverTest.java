package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.store.PostgresServer;
import dev.pinfleet.proto.v1.CancelRolloutRequest;
import dev.pinfleet.proto.v1.ControllerServiceGrpc;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NextSerialRequest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.NotActive;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.ShowResponse;
import dev.pinfleet.proto.v1.SubmitRequest;
import com.google.protobuf.Any;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.StatusProto;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two {@code pinfleet controller serve} processes on one real PostgreSQL (started by this test, stopped by its pid),
 * real agents on loopback, the real CLI given both addresses: one controller is active, the other serves reads and
 * refuses writes naming the active; the active is killed (SIGKILL) mid-rollout, the standby takes the leadership
 * lease and the rollout over from its records, asks the nodes that were in flight where they are instead of
 * deploying them again, and finishes it, while the CLI that started it follows it to the end on the standby.
 * Skipped, saying what is missing, only where Debian's PostgreSQL binaries are not installed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ControllerFailoverTest {
    /** Generous: every wait below ends as soon as its condition holds; the limit only bounds a broken run. */
    static final Duration WAIT = Duration.ofSeconds(120);
    /** The controllers' lease (the default): the standby must have taken over within it. */
    static final long LEASE_MS = 30_000;

    @TempDir Path dir;
    PostgresServer pg;
    int databases;
    FleetHarness h;
    FakeMirror held;
    CountDownLatch gate;
    final List<ServedController> controllers = new ArrayList<>();
    final Map<ServedController, ManagedChannel> channels = new java.util.HashMap<>();

    @BeforeAll
    void startDatabase() throws Exception {
        Assumptions.assumeTrue(PostgresServer.installed(), PostgresServer.MISSING);
        pg = PostgresServer.start();
    }

    @AfterAll
    void stopDatabase() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir); // one instance serves every test (the database server is per class): all anew
        gate = new CountDownLatch(1);
        held = h.heldMirror(gate, WAIT);
        controllers.clear();
        channels.clear();
    }

    @AfterEach
    void tearDown() throws Exception {
        gate.countDown();
        channels.values().forEach(ManagedChannel::shutdownNow);
        for (ServedController c : controllers) {
            c.close();
        }
        held.close();
        h.close();
    }

    /** The first controller (active: it takes the lease first) and a second (standby) on one new database. */
    private ServedController[] pair() throws Exception {
        String db = pg.createDatabase("records_" + databases++);
        ServedController a = ServedController.start(h, dir.resolve("a"), db);
        controllers.add(a);
        ServedController b = ServedController.another(a, dir.resolve("b"));
        controllers.add(b);
        return new ServedController[] {a, b};
    }

    /** A raw gRPC client of {@code c} as alice for one call, for what the CLI hides (it follows refusals itself). */
    private ControllerServiceGrpc.ControllerServiceBlockingStub raw(ServedController c) {
        ManagedChannel ch = channels.computeIfAbsent(c, k -> {
            try {
                var tls = GrpcSslContexts.forClient().keyManager(c.pki.resolve("alice.crt").toFile(),
                        c.pki.resolve("alice.key").toFile()).trustManager(c.pki.resolve("ca.crt").toFile()).build();
                return NettyChannelBuilder.forAddress("127.0.0.1", c.port()).sslContext(tls).build();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        return ControllerServiceGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private FleetHarness.Run cli(List<String> args, List<String> more) {
        return h.cli(args, more);
    }

    private List<String> deploy(Path signed, String... extra) throws Exception {
        return h.deployArgs(signed, extra);
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        FleetHarness.await(what, WAIT, condition);
    }

    private static String release(Manifest m) {
        return FleetHarness.release(m);
    }

    private static NotActive notActive(StatusRuntimeException e) {
        com.google.rpc.Status s = StatusProto.fromThrowable(e);
        assertNotNull(s, "no status details in " + e);
        for (Any d : s.getDetailsList()) {
            if (d.is(NotActive.class)) {
                try {
                    return d.unpack(NotActive.class);
                } catch (com.google.protobuf.InvalidProtocolBufferException x) {
                    throw new AssertionError(x);
                }
            }
        }
        throw new AssertionError("no NotActive detail in " + s);
    }

    @Test
    void theStandbyServesReadsAndRefusesWritesNamingTheActiveWhichTheCliFollows() throws Exception {
        h.start(2);
        ServedController[] c = pair();
        ServedController a = c[0];
        ServedController b = c[1];
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> raw(b).submit(SubmitRequest.getDefaultInstance()));
        assertEquals(Status.Code.FAILED_PRECONDITION, refused.getStatus().getCode());
        NotActive n = notActive(refused);
        assertEquals(a.address(), n.getActiveAddress());
        assertEquals(b.address(), n.getStandbyAddress());
        assertEquals("process " + a.pid() + " on " + java.net.InetAddress.getLocalHost().getHostName(), n.getActive());
        assertTrue(n.getLeaseLeftMs() > 0 && n.getLeaseLeftMs() <= LEASE_MS, n.toString());
        assertEquals("submit: refused by the standby controller at " + b.address() + ": the active controller is process "
                + a.pid() + " on " + java.net.InetAddress.getLocalHost().getHostName() + " at " + a.address()
                + "; send it there (pinfleet does by itself when --controller lists both)",
                refused.getStatus().getDescription());
        // Both read the same records; only the active one says it runs the rollouts (dashboards take max, not sum).
        assertTrue(a.scrape().contains("\npinfleet_controller_active 1.0\n"), "the active's /metrics");
        assertTrue(b.scrape().contains("\npinfleet_controller_active 0.0\n"), "the standby's /metrics");
        StatusRuntimeException cancel = assertThrows(StatusRuntimeException.class,
                () -> raw(b).cancel(CancelRolloutRequest.newBuilder().setRolloutId(1).build()));
        assertEquals(a.address(), notActive(cancel).getActiveAddress(), "cancel is a write too");
        StatusRuntimeException serial = assertThrows(StatusRuntimeException.class,
                () -> raw(b).nextSerial(NextSerialRequest.newBuilder().setApp("shop").build()));
        assertEquals(a.address(), notActive(serial).getActiveAddress(), "issuing a serial is a write too");
        assertTrue(serial.getStatus().getDescription().startsWith("serial of app shop: refused by the standby"),
                serial.getStatus().getDescription());
        assertTrue(raw(a).nextSerial(NextSerialRequest.newBuilder().setApp("shop").build()).getSerial() > 0,
                "the active issues it");

        // The CLI given only the standby follows its refusal to the active; the records are the same on both.
        FleetHarness.Run first = cli(deploy(h.signed(h.manifest(1, h.app1))), ServedController.as("alice", b));
        assertEquals(0, first.code(), first.all());
        assertTrue(first.out().contains("controller at " + a.address()), "submitted to the active:\n" + first.out());
        assertEquals(1, raw(b).history(HistoryRequest.getDefaultInstance()).getRolloutsCount(),
                "the standby reads the records the active wrote");
        FleetHarness.Run history = cli(List.of("history"), ServedController.as("bob", b, a));
        assertEquals(0, history.code(), history.all());
        assertTrue(history.out().lines().anyMatch(l -> l.matches(" +1 +shop +1 .* alice .* succeeded .*")), history.out());
        FleetHarness.Run missing = cli(List.of("cancel", "7"), ServedController.as("bob", b, a));
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("no rollout 7 in the records"), "answered by the active: " + missing.all());
    }

    @Test
    void aSecondControllerOnOneSqliteFileIsRefusedNamingTheFirst() throws Exception {
        ServedController a = ServedController.start(h, dir.resolve("a"), dir.resolve("records.db").toString());
        controllers.add(a);
        AssertionError e = assertThrows(AssertionError.class,
                () -> controllers.add(ServedController.another(a, dir.resolve("b"))));
        assertTrue(e.getMessage().contains("controller serve: database " + dir.resolve("records.db") + ": the controller"
                + " process " + a.pid() + " on "), e.getMessage());
        assertTrue(e.getMessage().contains(" at " + a.address() + " serves these records; a SQLite file serves one"
                + " controller at a time: stop that one, or put the records in PostgreSQL for an active and a standby"
                + " controller"), e.getMessage());
        assertTrue(e.getMessage().contains("(it exited with 1)"), e.getMessage());
    }

    @Test
    void theActiveKilledMidRolloutIsReplacedByTheStandbyWhichFinishesTheRolloutDeployingNoNodeTwice() throws Exception {
        for (int i = 1; i <= 6; i++) {
            // The held mirror keeps mypkg 2.0 back until the test lets it go: long past the agents' default 30 s
            // without a byte on a loaded machine, when a retry would count as a second fetch.
            h.start("web" + i, i == 4 || i == 5 ? Map.of("mirrors", held.baseUri().toString(), "fetch-idle-timeout",
                    "300s") : Map.of());
        }
        ServedController[] c = pair();
        ServedController a = c[0];
        ServedController b = c[1];
        Manifest v1 = h.manifest(1, h.app1);
        Manifest v2 = h.manifest(2, h.app2);
        FleetHarness.Run first = cli(deploy(h.signed(v1)), ServedController.as("alice", b, a));
        assertEquals(0, first.code(), first.all());

        Path report = dir.resolve("v2.json");
        List<String> args = deploy(h.signed(v2), "--canary", "1", "--batch", "2", "--report", report.toString(),
                "--message", "mypkg 2.0");
        CompletableFuture<FleetHarness.Run> rollout = CompletableFuture.supplyAsync(
                () -> cli(args, ServedController.as("alice", a, b)));
        await("web4 and web5 fetching mypkg 2.0 (the second batch in flight)", () -> held.requests(h.app2.getFilename()) >= 2);
        long killed = System.currentTimeMillis();
        assertEquals(137, a.kill(), "SIGKILL of the active controller");

        // The standby takes the lease and the rollout; web4 and web5 are still deploying (their mirror holds
        // mypkg 2.0 back), so it asks them where they are until they are done instead of deploying them again.
        await("the standby to take the rollout over", () -> takenOver(raw(b)) != null);
        RolloutEvent taken = takenOver(raw(b));
        long takeoverMs = taken.getAtUnixMs() - killed;
        System.out.println("FAILOVER {\"takeover_ms\": " + takeoverMs + ", \"lease_ms\": " + LEASE_MS + "}");
        // Both stamps are this host's clock; the lease is 30 s and the standby steps every second, so a takeover
        // that came after the lease would be a failure by tens of seconds, not a matter of load.
        assertTrue(takeoverMs < LEASE_MS, "taken over " + takeoverMs + " ms after the kill");
        assertEquals(2, taken.getEpoch(), "the standby writes with the rollout's next epoch");
        assertTrue(h.agents.get("web4").engine().busy() && h.agents.get("web5").engine().busy(),
                "web4 and web5 were still deploying when the standby took over");
        assertEquals(release(v1), h.fleet.current("web6", "shop"), "web6 was never started");
        gate.countDown();

        FleetHarness.Run followed = rollout.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(0, followed.code(), "the CLI follows the rollout on the standby to its end:\n" + followed.all());
        assertTrue(followed.all().contains("following rollout 2 on the controller at " + b.address()), followed.all());
        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        Map<String, NodeReport> n = r.getNodesList().stream().collect(Collectors.toMap(NodeReport::getNode,
                Function.identity()));
        for (String name : List.of("web1", "web2", "web3", "web6")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertFalse(n.get(name).getReconciled(), name);
        }
        for (String name : List.of("web4", "web5")) {
            assertEquals(NodeOutcome.NODE_OK, n.get(name).getOutcome(), name + ": " + n.get(name).getError());
            assertTrue(n.get(name).getReconciled(), name + " was asked where it is, and found on the release");
        }
        assertEquals(2, held.requests(h.app2.getFilename()), "web4 and web5 fetched mypkg 2.0 once each");
        assertEquals("alice", r.getOperator());
        assertEquals("mypkg 2.0", r.getMessage());

        ShowResponse show = raw(b).show(ShowRequest.newBuilder().setRolloutId(2).build());
        for (int i = 1; i <= 6; i++) {
            String node = "web" + i;
            assertEquals(1, show.getEventsList().stream().filter(e -> e.hasNodeStarted()
                    && e.getNodeStarted().getNode().equals(node)).count(), node + " was started once");
            assertEquals(1, show.getEventsList().stream().filter(e -> e.hasNodeFinished()
                    && e.getNodeFinished().getNode().equals(node)).count(), node + " ended once");
            assertEquals(release(v2), h.fleet.current(node, "shop"), node);
            CleanRoot.assertNothingHalfWritten(h.fleet.root(node));
        }
        assertEquals(1, show.getEventsList().stream().filter(RolloutEvent::hasFinished).count(), "one final report");
        assertEquals("succeeded", show.getRollout().getOutcome().name().replace("ROLLOUT_", "").toLowerCase());
        List<Long> seqs = show.getEventsList().stream().map(RolloutEvent::getSeq).toList();
        for (int i = 0; i < seqs.size(); i++) {
            assertEquals(i + 1, seqs.get(i), "the record has no gap nor a doubled position");
        }
    }

    private static void signal(long pid, String sig) throws Exception {
        Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).redirectErrorStream(true).start();
        if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
            throw new AssertionError("kill -" + sig + " " + pid + " failed");
        }
    }

    @Test
    void anActivePausedPastItsLeaseIsReplacedAndOnWakingStepsDownWithoutTouchingTheRollout() throws Exception {
        h.start("web1", Map.of("mirrors", held.baseUri().toString(), "fetch-idle-timeout", "300s"));
        h.start("web2", Map.of());
        String db = pg.createDatabase("records_" + databases++);
        // A short lease so that the test waits little; the paused controller's process stays alive, so only the
        // lease's expiry on the database's clock lets the standby in.
        ServedController a = ServedController.start(h, dir.resolve("a"), db, "--lease-seconds", "5");
        controllers.add(a);
        ServedController b = ServedController.another(a, dir.resolve("b"), "--lease-seconds", "5");
        controllers.add(b);
        Manifest v2 = h.manifest(2, h.app2);
        Path report = dir.resolve("v2.json");
        List<String> args = deploy(h.signed(v2), "--batch", "1", "--report", report.toString());
        CompletableFuture<FleetHarness.Run> rollout = CompletableFuture.supplyAsync(
                () -> cli(args, ServedController.as("alice", a, b)));
        await("web1 fetching mypkg 2.0", () -> held.requests(h.app2.getFilename()) >= 1);
        signal(a.pid(), "STOP");
        try {
            await("the standby to take the rollout over", () -> takenOver(raw(b), 1) != null);
        } finally {
            signal(a.pid(), "CONT");
        }
        await("the woken controller to refuse writes naming the new active one", () -> {
            try {
                raw(a).cancel(CancelRolloutRequest.newBuilder().setRolloutId(1).build());
                return false;
            } catch (StatusRuntimeException e) {
                return e.getStatus().getCode() == Status.Code.FAILED_PRECONDITION
                        && StatusProto.fromThrowable(e) != null && notActive(e).getActiveAddress().equals(b.address());
            }
        });
        gate.countDown();
        FleetHarness.Run done = rollout.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(0, done.code(), done.all());
        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        for (NodeReport n : r.getNodesList()) {
            assertEquals(NodeOutcome.NODE_OK, n.getOutcome(), n.getNode() + ": " + n.getError());
        }
        assertTrue(r.getNodes(0).getReconciled(), "web1, in flight at the pause, was asked where it is");
        assertEquals(1, held.requests(h.app2.getFilename()), "web1 fetched mypkg 2.0 once: it was not deployed again");
        ShowResponse show = raw(a).show(ShowRequest.newBuilder().setRolloutId(1).build());
        long takeover = takenOver(raw(a), 1).getSeq();
        for (RolloutEvent e : show.getEventsList()) {
            assertEquals(e.getSeq() < takeover ? 1 : 2, e.getEpoch(), "after the takeover only the new active one"
                    + " writes: " + e);
        }
        for (String node : List.of("web1", "web2")) {
            assertEquals(1, show.getEventsList().stream().filter(e -> e.hasNodeStarted()
                    && e.getNodeStarted().getNode().equals(node)).count(), node + " was started once");
            assertEquals(release(v2), h.fleet.current(node, "shop"), node);
        }
    }

    private static RolloutEvent takenOver(ControllerServiceGrpc.ControllerServiceBlockingStub c) {
        return takenOver(c, 2);
    }

    /** The event recording the standby's takeover of rollout {@code id}, or null while there is none. */
    private static RolloutEvent takenOver(ControllerServiceGrpc.ControllerServiceBlockingStub c, long id) {
        return c.show(ShowRequest.newBuilder().setRolloutId(id).build()).getEventsList().stream()
                .filter(e -> e.hasState() && e.getState().getReason().equals(
                        "taken over by a controller that found it interrupted"))
                .findFirst().orElse(null);
    }
}

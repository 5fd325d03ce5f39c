package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.deploy.HaltPoint;
import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Threat model, <b>Crashes and state</b>: a real agent process killed as by {@code kill -9} at an exact step of a
 * deploy, then restarted on the same root. The step is hit deterministically: through the {@link HaltPoint} test
 * seam (the process halts itself, no shutdown hook runs) or, right after the switch, by the manifest's own
 * post-switch hook running {@code kill -9 $PPID}. After the restart `current` is the old release or the complete
 * new one, never anything in between, the root holds nothing half-written ({@link CleanRoot}), and sending the
 * same signed manifest again yields exactly one report: a completed switch, a clean build, the hook and health
 * check the crash cut short, or a no-op. Seeding and
 * restarts run in-process (the same recovery code, quicker); only the crashing agent is a separate JVM.
 */
class CrashThreatTest {
    static final String APP = "shop";

    @TempDir Path dir;
    FakeMirror mirror;
    final KeyPair key = Keys.generate();
    Path trusted;
    Path root;
    Artifact v1Wheel;
    Artifact v2Wheel;
    Artifact v3Wheel;
    int processes;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        trusted = Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(trusted.resolve("release.pub"), key.getPublic());
        root = dir.resolve("root");
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        v1Wheel = publish(mirror, TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n").build(wheels));
        v2Wheel = publish(mirror, TestWheels.wheel("shoplib", "2.0").file("shoplib/__init__.py", "V = 2\n")
                .file("shoplib/more.py", "X = 2\n").build(wheels));
        v3Wheel = publish(mirror, TestWheels.wheel("shoplib", "3.0").file("shoplib/__init__.py", "V = 3\n").build(wheels));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        mirror.close();
    }

    static Artifact publish(FakeMirror mirror, Path wheel) throws IOException {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    private static String interpreter;

    /** The interpreter python3 resolves to, asked once (a version manager's shim is slow to start). */
    static synchronized String interpreter() throws IOException {
        if (interpreter == null) {
            interpreter = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        }
        return interpreter;
    }

    /** The agent configuration every start in these tests uses (as flags or as the in-process config). */
    static Map<String, String> config(Path root, Path trusted, FakeMirror mirror, Map<String, String> extra)
            throws IOException {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", "n1");
        cfg.put("root", root.toString());
        cfg.put("listen", "127.0.0.1:0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", trusted.toString());
        cfg.put("mirrors", mirror.baseUri().toString());
        cfg.put("python", interpreter());
        cfg.put("shutdown-seconds", "5");
        cfg.putAll(extra);
        return cfg;
    }

    /** An agent in this JVM on {@link #root}; the caller closes it. */
    private Agent inProcess(Map<String, String> extra) throws IOException {
        AgentConfig c = AgentConfig.load(null, config(root, trusted, mirror, extra));
        return new Agent(c, Clock.systemUTC()).start();
    }

    /**
     * A separate agent JVM on {@link #root} that halts at {@code point} (see {@link HaltPoint}; empty: never), started
     * with flags that shorten a short-lived JVM's start.
     */
    private AgentProcess process(String point, Map<String, String> extra) throws Exception {
        String options = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
                + (point.isEmpty() ? "" : " -D" + HaltPoint.PROPERTY + "=" + point);
        AgentProcess p = AgentProcess.start(dir.resolve("proc-" + (++processes)), config(root, trusted, mirror, extra),
                List.of("env", "JAVA_TOOL_OPTIONS=" + options));
        open.add(p);
        return p;
    }

    private ManagedChannel channel(int port) {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        open.add(ch::shutdownNow);
        return ch;
    }

    /** What one Deploy call streamed back before it ended, normally or because the agent died. */
    record Streamed(List<DeployEvent> events, StatusRuntimeException error) {
        List<DeployReport> reports() {
            return events.stream().filter(DeployEvent::hasReport).map(DeployEvent::getReport).toList();
        }

        /** The one report; fails when there is none or more than one. */
        DeployReport report() {
            assertEquals(1, reports().size(), "exactly one report per deploy, got " + reports());
            return reports().get(0);
        }
    }

    static Streamed deploy(ManagedChannel ch, SignedManifest envelope) {
        Iterator<DeployEvent> it = AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(120, TimeUnit.SECONDS)
                .deploy(DeployRequest.newBuilder().setManifest(envelope).setDeployId("crash-threat").build());
        List<DeployEvent> events = new ArrayList<>();
        try {
            for (int i = 0; i < 100_000 && it.hasNext(); i++) {
                events.add(it.next());
            }
        } catch (StatusRuntimeException e) {
            return new Streamed(events, e);
        }
        return new Streamed(events, null);
    }

    private SignedManifest sign(Manifest m) {
        return Envelope.sign(ManifestCodec.toJson(m), List.of(key));
    }

    private Manifest release(long serial, Artifact wheel) {
        return TestFleet.manifest(APP, serial, List.of(wheel)).build();
    }

    static String idOf(Manifest m) {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
    }

    private String current() throws IOException {
        return CleanRoot.current(root, APP);
    }

    /** What the current release's python imports as shoplib.V. */
    private String importedVersion() throws IOException {
        return TestWheels.run(List.of(root.resolve("apps/shop/current/bin/python").toString(), "-c",
                "import shoplib; print(shoplib.V)")).strip();
    }

    /** Waits (at most 60 s) for the crashed process to be gone; checks it died as killed, not by an exit. */
    private static void assertKilled(AgentProcess p, String how) throws InterruptedException {
        assertTrue(p.process().waitFor(60, TimeUnit.SECONDS), "the agent did not die " + how + "; its log:\n" + p.log());
        assertEquals(HaltPoint.EXIT_STATUS, p.process().exitValue(), "died as by kill -9 " + how + "; log:\n" + p.log());
    }

    private AppStatus status(Agent agent) {
        return AgentServiceGrpc.newBlockingStub(channel(agent.port())).status(StatusRequest.newBuilder().setApp(APP)
                .build()).getApps(0);
    }

    @ParameterizedTest(name = "halted {0}")
    @ValueSource(strings = {HaltPoint.AFTER_BUILD, HaltPoint.AFTER_RELEASE, HaltPoint.BEFORE_SWITCH})
    void killedBetweenTheCompletionMarkerAndTheSwitchKeepsTheOldReleaseAndTheSameManifestThenCompletes(String point)
            throws Exception {
        Manifest v1 = release(1, v1Wheel);
        Manifest v2 = release(2, v2Wheel);
        SignedManifest v2Signed = sign(v2);
        try (Agent seed = inProcess(Map.of())) {
            assertEquals(Outcome.OK, deploy(channel(seed.port()), sign(v1)).report().getOutcome());
        }
        AgentProcess crashing = process(point, Map.of());
        Streamed cut = deploy(channel(crashing.port()), v2Signed);
        assertKilled(crashing, "at " + point);
        assertTrue(crashing.log().contains("halting at " + HaltPoint.PROPERTY + "=" + point), crashing.log());
        assertEquals(List.of(), cut.reports(), "a killed agent sends no report");
        assertNotNull(cut.error(), "the stream of the killed deploy ends in an error");
        if (!point.equals(HaltPoint.AFTER_BUILD)) {
            assertTrue(Files.isDirectory(root.resolve("apps/shop/releases").resolve(idOf(v2))),
                    "the kill came after the new release was complete");
        }

        int requests = mirror.requests();
        try (Agent restarted = inProcess(Map.of())) {
            assertEquals(idOf(v1), current(), "after the restart the old, complete release is current");
            assertEquals("1", importedVersion());
            CleanRoot.assertNothingHalfWritten(root);
            AppStatus s = status(restarted);
            assertEquals(idOf(v1), s.getRelease(), "status names the release `current` points at");
            assertEquals(ManifestCodec.contentDigest(v1), s.getManifestDigest());
            if (point.equals(HaltPoint.BEFORE_SWITCH)) {
                assertEquals(2, s.getSerial(), "the serial was recorded before the switch");
                assertEquals(Outcome.FAILED, s.getLastOutcome());
                assertTrue(s.getLastError().startsWith("node n1: the agent stopped after recording serial 2 for release "
                        + idOf(v2) + " of app shop but before switching `current` to it; release " + idOf(v1)
                        + " stays current"), s.getLastError());
            }

            Streamed again = deploy(channel(restarted.port()), v2Signed);
            assertNull(again.error());
            DeployReport r = again.report();
            assertEquals(Outcome.OK, r.getOutcome(), "the same signed manifest completes, never a replay: "
                    + r.getError());
            assertEquals(idOf(v1), r.getPreviousRelease());
            assertEquals(idOf(v2), current());
            assertEquals("2", importedVersion());
            assertEquals(requests, mirror.requests(), "everything was in the store already: nothing fetched again");
            AppStatus after = status(restarted);
            assertEquals(2, after.getSerial());
            assertEquals(Outcome.OK, after.getLastOutcome());
            assertEquals("", after.getLastError());
            assertEquals(ManifestCodec.contentDigest(v2), after.getManifestDigest());
            DeployReport replay = deploy(channel(restarted.port()), v2Signed).report();
            assertEquals(Outcome.UNCHANGED, replay.getOutcome(), "once switched, the same manifest is a no-op: "
                    + replay.getError());
            DeployReport older = deploy(channel(restarted.port()), sign(release(2, v3Wheel))).report();
            assertEquals(Outcome.FAILED, older.getOutcome(), "another manifest with the used serial stays refused");
            assertTrue(older.getError().contains("not greater than the last applied serial 2"), older.getError());
        }
        CleanRoot.assertNothingHalfWritten(root);
    }

    /**
     * The hook is the first thing the agent does after the switch; the first time it runs it kills the agent for
     * real, later runs append to {@code marker} and pass. The health check passes when {@code healthy}.
     */
    private Manifest killingHook(Manifest m, Path marker, boolean healthy) {
        String sh = "if [ -e '" + marker + "' ]; then echo again >> '" + marker + "'; else echo first > '" + marker
                + "'; kill -9 $PPID; sleep 10; fi";
        return m.toBuilder().setPostSwitchHook(HookCommand.newBuilder().addAllArgv(List.of("/bin/sh", "-c", sh))
                .setTimeoutSeconds(60)).setHealthCheck(HealthCheck.newBuilder().setTimeoutSeconds(30)
                .setCommand(HookCommand.newBuilder().addArgv(healthy ? "/bin/true" : "/bin/false"))).build();
    }

    @ParameterizedTest(name = "healthy {0}")
    @ValueSource(booleans = {true, false})
    void killedRightAfterTheSwitchTheSameManifestRunsTheHookAndHealthCheckTheCrashCutShort(boolean healthy)
            throws Exception {
        Manifest v1 = release(1, v1Wheel);
        Path marker = dir.resolve("hook-runs");
        Manifest v2 = killingHook(release(2, v2Wheel), marker, healthy);
        SignedManifest v2Signed = sign(v2);
        try (Agent seed = inProcess(Map.of())) {
            assertEquals(Outcome.OK, deploy(channel(seed.port()), sign(v1)).report().getOutcome());
        }
        AgentProcess crashing = process("", Map.of());
        Streamed cut = deploy(channel(crashing.port()), v2Signed);
        assertKilled(crashing, "by its post-switch hook");
        assertEquals(List.of(), cut.reports(), "a killed agent sends no report");
        assertEquals("first\n", Files.readString(marker));

        int requests = mirror.requests();
        try (Agent restarted = inProcess(Map.of())) {
            assertEquals(idOf(v2), current(), "the switch happened: the complete new release is current");
            assertEquals("2", importedVersion());
            CleanRoot.assertNothingHalfWritten(root);
            AppStatus s = status(restarted);
            assertEquals(idOf(v2), s.getRelease());
            assertEquals(2, s.getSerial());
            assertTrue(s.getChecksPending(), "status says the hook and health check are owed");
            assertTrue(s.getLastError().contains("before its hook and health check ran; deploying the same signed"
                    + " manifest again runs them"), s.getLastError());

            Streamed again = deploy(channel(restarted.port()), v2Signed);
            assertNull(again.error());
            DeployReport r = again.report();
            assertEquals(List.of("hook", "health"), r.getChecksList().stream().map(CheckResult::getKind).toList()
                    .subList(0, 2), "the checks the crash cut short ran: " + r);
            assertEquals("first\nagain\n", Files.readString(marker), "the hook ran once more");
            assertEquals(idOf(v1), r.getPreviousRelease(), "the release before the cut-short switch");
            assertEquals(requests, mirror.requests(), "nothing fetched again");
            if (healthy) {
                assertEquals(Outcome.OK, r.getOutcome(), r.getError());
                assertEquals(idOf(v2), current());
            } else {
                assertEquals(Outcome.REVERTED, r.getOutcome(), r.getError());
                assertEquals(FailureReason.REASON_HEALTH_FAILED, r.getReason());
                assertEquals(idOf(v1), current(), "switched back to the release before the crash");
                assertEquals("1", importedVersion());
            }
            assertFalse(status(restarted).getChecksPending(), "nothing owed any more");
            DeployReport replay = deploy(channel(restarted.port()), v2Signed).report();
            assertEquals(healthy ? Outcome.UNCHANGED : Outcome.FAILED, replay.getOutcome(),
                    "once the checks ran, the same manifest is a no-op (or, reverted, a used serial): "
                    + replay.getError());
            assertEquals(List.of(), replay.getChecksList(), "and runs no hook");
        }
        CleanRoot.assertNothingHalfWritten(root);
    }

    @Test
    void killedWhileDeletingTheTrashRestartsCleanAndKeepsTheKeptReleases() throws Exception {
        Map<String, String> keepTwo = Map.of("keep-releases", "2");
        Manifest v1 = release(1, v1Wheel);
        Manifest v2 = release(2, v2Wheel);
        Manifest v3 = release(3, v3Wheel);
        try (Agent seed = inProcess(keepTwo)) {
            assertEquals(Outcome.OK, deploy(channel(seed.port()), sign(v1)).report().getOutcome());
            assertEquals(Outcome.OK, deploy(channel(seed.port()), sign(v2)).report().getOutcome());
        }
        AgentProcess crashing = process(HaltPoint.DURING_TRASH, keepTwo);
        Streamed s3 = deploy(channel(crashing.port()), sign(v3));
        DeployReport r3 = s3.report();
        assertEquals(Outcome.OK, r3.getOutcome(), "the report is sent before the trash is deleted: " + r3.getError());
        assertKilled(crashing, "while deleting the trash");
        Path trash = root.resolve("trash");
        assertFalse(Files.isDirectory(root.resolve("apps/shop/releases").resolve(idOf(v1))), "v1 left the releases");
        assertEquals(1, list(trash).size(), "v1 lies half-deleted in the trash: " + list(trash));

        try (Agent restarted = inProcess(keepTwo)) {
            assertTrue(restarted.engine().awaitTrashEmptied(Duration.ofSeconds(60)), "the trash is emptied at start");
            assertEquals(List.of(), list(trash), "nothing left in the trash");
            assertEquals(idOf(v3), current());
            assertEquals("3", importedVersion());
            assertEquals("2", TestWheels.run(List.of(root.resolve("apps/shop/releases").resolve(idOf(v2))
                    .resolve("bin/python").toString(), "-c", "import shoplib.more, shoplib; print(shoplib.V)")).strip(),
                    "the previous release is intact");
            CleanRoot.assertNothingHalfWritten(root);

            DeployReport r4 = deploy(channel(restarted.port()), sign(release(4, v1Wheel))).report();
            assertEquals(Outcome.OK, r4.getOutcome(), r4.getError());
            assertTrue(restarted.engine().awaitTrashEmptied(Duration.ofSeconds(60)));
            assertEquals(List.of(), list(trash), "v2, beyond keep-releases=2, went through the trash");
            assertEquals(List.of(idOf(release(4, v1Wheel)), idOf(v3)).stream().sorted().toList(),
                    list(root.resolve("apps/shop/releases")).stream().map(p -> p.getFileName().toString()).sorted()
                            .toList());
        }
        CleanRoot.assertNothingHalfWritten(root);
    }

    static List<Path> list(Path d) throws IOException {
        if (!Files.isDirectory(d)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }
}

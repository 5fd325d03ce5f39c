package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.agent.tls.RoleInterceptor;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Health;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.KeptRelease;
import dev.pinfleet.proto.v1.PlanRequest;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.ReleaseManifestRequest;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Source;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real agent behind real gRPC on loopback, fetching from a real HTTP mirror on loopback. */
class AgentDeployTest {
    @TempDir Path dir;
    FakeMirror mirror;
    TestFleet fleet;
    Artifact core;
    Artifact app;
    Artifact appV2;

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        core = publish(TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n").build(wheels));
        app = publish(TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0")
                .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 1\n")
                .file("mypkg/cli.py", "def main():\n    print('mypkg says', __import__('mypkg').ANSWER)\n")
                .consoleScript("mypkg-hello", "mypkg.cli:main").build(wheels));
        appV2 = publish(TestWheels.wheel("mypkg", "2.0").requires("core-lib==1.0")
                .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 2\n").build(wheels));
    }

    private Artifact publish(Path wheel) throws Exception {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        mirror.close();
    }

    private Manifest v1(long serial) {
        return TestFleet.manifest("shop", serial, List.of(core, app)).build();
    }

    private Manifest v2(long serial) {
        return TestFleet.manifest("shop", serial, List.of(core, appV2)).build();
    }

    private String python(Agent agent, String code) throws Exception {
        Path py = fleet.root("n1").resolve("apps/shop/current/bin/python");
        return TestWheels.run(List.of(py.toString(), "-c", code)).strip();
    }

    @Test
    void deployStreamsPhasesAndReportAndTheReleaseImports() throws Exception {
        Agent agent = fleet.start("n1");
        TestFleet.Result r = fleet.deploy(agent, fleet.sign(v1(1)));
        DeployReport rep = r.report();
        assertEquals(Outcome.OK, rep.getOutcome(), rep.getError());
        List<Phase> phases = r.events().stream().filter(DeployEvent::hasPhaseStarted).map(DeployEvent::getPhaseStarted).toList();
        assertEquals(List.of(Phase.VERIFY, Phase.PLAN, Phase.FETCH, Phase.INSTALL, Phase.SWITCH), phases);
        assertTrue(r.events().get(r.events().size() - 1).hasReport(), "the report is the last event");
        assertEquals(5, rep.getPhasesCount());
        assertEquals(2, rep.getArtifactsCount());
        for (ArtifactResult a : rep.getArtifactsList()) {
            Artifact want = a.getFilename().equals(core.getFilename()) ? core : app;
            assertEquals(want.getSha256(), a.getSha256());
            assertEquals(want.getSize(), a.getBytes());
            assertEquals(Source.MIRROR, a.getSource());
            assertEquals(mirror.baseUri() + want.getFilename(), a.getUrl());
            assertEquals(1, a.getTries());
        }
        assertEquals(ManifestCodec.releaseId(ManifestCodec.contentDigest(v1(1))), fleet.current("n1", "shop"));
        assertEquals("42", python(agent, "import mypkg; print(mypkg.ANSWER)"));
        Path hello = fleet.root("n1").resolve("apps/shop/current/bin/mypkg-hello");
        assertEquals("mypkg says 42", TestWheels.run(List.of(hello.toString())).strip());

        StatusResponse s = AgentServiceGrpc.newBlockingStub(fleet.channel(agent)).status(StatusRequest.getDefaultInstance());
        assertEquals("n1", s.getNode());
        assertEquals(1, s.getApps(0).getSerial());
        assertEquals(rep.getRelease(), s.getApps(0).getRelease());
    }

    private void assertRefusedAndUnchanged(Agent agent, SignedManifest env, String releaseBefore, String... expected)
            throws Exception {
        DeployReport rep = fleet.deploy(agent, env).report();
        assertEquals(Outcome.FAILED, rep.getOutcome());
        assertEquals(Phase.VERIFY, rep.getFailedPhase());
        assertTrue(rep.getError().startsWith("node n1: "), rep.getError());
        for (String e : expected) {
            assertTrue(rep.getError().contains(e), "'" + e + "' not in: " + rep.getError());
        }
        assertEquals(releaseBefore, fleet.current("n1", "shop"), "the node stays on its previous release");
        assertEquals("42", python(agent, "import mypkg; print(mypkg.ANSWER)"));
    }

    @Test
    void manifestSignedByAnUntrustedKeyIsRefused() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1))).report().getOutcome());
        String before = fleet.current("n1", "shop");
        SignedManifest byStranger = Envelope.sign(ManifestCodec.toJson(v2(2)), List.of(Keys.generate()));
        assertRefusedAndUnchanged(agent, byStranger, before, "untrusted key");
    }

    @Test
    void payloadChangedAfterSigningIsRefused() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1))).report().getOutcome());
        String before = fleet.current("n1", "shop");
        SignedManifest signed = fleet.sign(v2(2));
        SignedManifest tampered = signed.toBuilder().setPayload(ByteString.copyFrom(ManifestCodec.toJson(
                v2(2).toBuilder().setArtifacts(1, appV2.toBuilder().setPath("evil/" + appV2.getFilename())).build())))
                .build();
        assertRefusedAndUnchanged(agent, tampered, before, "does not match the payload");
    }

    @Test
    void serialNotGreaterThanTheLastIsRefused() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(5))).report().getOutcome());
        String before = fleet.current("n1", "shop");
        assertRefusedAndUnchanged(agent, fleet.sign(v2(5)), before, "serial 5", "not greater than the last applied serial 5");
        assertRefusedAndUnchanged(agent, fleet.sign(v2(4)), before, "serial 4");
    }

    @Test
    void expiredManifestIsRefused() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1))).report().getOutcome());
        String before = fleet.current("n1", "shop");
        Manifest expired = v2(2).toBuilder().setExpires(Timestamps.fromMillis(System.currentTimeMillis() - 1000)).build();
        assertRefusedAndUnchanged(agent, fleet.sign(expired), before, "expired at");
    }

    @Test
    void manifestForAnotherEnvironmentIsRefused() throws Exception {
        Agent agent = fleet.start("n1", Map.of("environment", "staging"));
        Manifest bound = v1(1).toBuilder().setEnvironment("staging").build();
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(bound)).report().getOutcome());
        String before = fleet.current("n1", "shop");
        assertRefusedAndUnchanged(agent, fleet.sign(v2(2).toBuilder().setEnvironment("production").build()), before,
                "bound to environment 'production'", "environment 'staging'");
    }

    @Test
    void aFailedDeployReportsWhatItFetched() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1))).report().getOutcome());
        Path wheels = dir.resolve("wheels");
        Artifact extra = publish(TestWheels.wheel("extra-lib", "1.0").file("extra_lib/__init__.py", "X = 1\n")
                .build(wheels));
        Artifact slip = publish(TestWheels.wheel("slip", "1.0").file("slip/__init__.py", "")
                .rawEntry("../../slipped.py", "print('out')\n".getBytes(StandardCharsets.UTF_8), 0100644)
                .build(wheels));
        DeployReport rep = fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 2, List.of(core, extra, slip))
                .build())).report();
        assertEquals(Outcome.FAILED, rep.getOutcome());
        assertEquals(Phase.INSTALL, rep.getFailedPhase(), rep.getError());
        assertEquals(FailureReason.REASON_INSTALL_ARCHIVE, rep.getReason(), rep.getError());
        Map<String, ArtifactResult> got = new java.util.HashMap<>();
        rep.getArtifactsList().forEach(a -> got.put(a.getFilename(), a));
        assertEquals(java.util.Set.of(core.getFilename(), extra.getFilename(), slip.getFilename()), got.keySet(),
                "every artifact the failed deploy brought into the store: " + rep.getArtifactsList());
        assertEquals(Source.STORE, got.get(core.getFilename()).getSource());
        for (Artifact a : List.of(extra, slip)) {
            ArtifactResult r = got.get(a.getFilename());
            assertEquals(Source.MIRROR, r.getSource(), a.getFilename());
            assertEquals(a.getSize(), r.getBytes());
            assertEquals(a.getSha256(), r.getSha256());
            assertEquals(mirror.baseUri() + a.getFilename(), r.getUrl());
        }

        // a download that fails: what was fetched before it (here: what the store had) is reported, it is not
        byte[] real = Files.readAllBytes(wheels.resolve(appV2.getFilename()));
        mirror.put(appV2.getFilename(), real, FakeMirror.Reply.bytes(new byte[real.length]));
        DeployReport bad = fleet.deploy(agent, fleet.sign(v2(3))).report();
        assertEquals(FailureReason.REASON_FETCH_CHECKSUM, bad.getReason(), bad.getError());
        assertEquals(List.of(core.getFilename()), bad.getArtifactsList().stream().map(ArtifactResult::getFilename)
                .toList());
        assertEquals(Source.STORE, bad.getArtifacts(0).getSource());
    }

    @Test
    void mirrorServingOtherBytesIsRefusedAndNothingStays() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1))).report().getOutcome());
        String before = fleet.current("n1", "shop");
        byte[] real = Files.readAllBytes(dir.resolve("wheels").resolve(appV2.getFilename()));
        byte[] evil = real.clone();
        evil[evil.length / 2] ^= 1; // same size, one bit flipped
        mirror.put(appV2.getFilename(), real, FakeMirror.Reply.bytes(evil));
        DeployReport rep = fleet.deploy(agent, fleet.sign(v2(2))).report();
        assertEquals(Outcome.FAILED, rep.getOutcome());
        assertEquals(Phase.FETCH, rep.getFailedPhase());
        String actual = Hashing.sha256Hex(evil);
        for (String want : List.of("node n1", mirror.baseUri() + appV2.getFilename(), appV2.getSha256(), actual)) {
            assertTrue(rep.getError().contains(want), "'" + want + "' not in: " + rep.getError());
        }
        assertEquals(before, fleet.current("n1", "shop"));
        Path store = fleet.root("n1").resolve("store");
        try (Stream<Path> files = Files.walk(store)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                assertNotEquals(actual, Hashing.sha256Hex(f), "the mirror's bytes stayed at " + f);
                assertFalse(f.getFileName().toString().equals(appV2.getSha256()), "nothing under the pinned sha256");
            }
        }
        assertEquals(Outcome.FAILED, AgentServiceGrpc.newBlockingStub(fleet.channel(agent))
                .status(StatusRequest.getDefaultInstance()).getApps(0).getLastOutcome());
    }

    @Test
    void secondConcurrentDeployIsRefusedWithResourceExhausted() throws Exception {
        Agent agent = fleet.start("n1");
        // the first deploy's download is held until the second deploy has been refused: no guess at how long
        CountDownLatch gate = new CountDownLatch(1);
        mirror.put(app.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(app.getFilename())),
                FakeMirror.Reply.gated(gate));
        CompletableFuture<TestFleet.Result> first = CompletableFuture.supplyAsync(() -> fleet.deploy(agent, fleet.sign(v1(1))));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (mirror.requests(app.getFilename()) == 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(agent.engine().busy(), "the first deploy is fetching");
        Iterator<DeployEvent> second = AgentServiceGrpc.newBlockingStub(fleet.channel(agent))
                .deploy(DeployRequest.newBuilder().setManifest(fleet.sign(v2(2))).build());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, second::hasNext);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("already running a deploy"), e.getStatus().getDescription());
        assertTrue(e.getStatus().getDescription().startsWith("node n1 "), e.getStatus().getDescription());
        assertTrue(agent.metrics().scrape().lines().anyMatch("pinfleet_deploys_refused_total 1.0"::equals),
                "the refusal is counted on /metrics");
        gate.countDown();
        assertEquals(Outcome.OK, first.get(60, TimeUnit.SECONDS).report().getOutcome());
        assertEquals(ManifestCodec.releaseId(ManifestCodec.contentDigest(v1(1))), fleet.current("n1", "shop"),
                "the refused deploy changed nothing: the first one's release is current");
        assertEquals(1, AgentServiceGrpc.newBlockingStub(fleet.channel(agent)).status(StatusRequest.getDefaultInstance())
                .getApps(0).getSerial(), "the refused serial 2 was not recorded");
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
    }

    @Test
    void sameManifestAgainIsANoOpAndRollbackSwitchesWithoutFetching() throws Exception {
        Agent agent = fleet.start("n1");
        SignedManifest first = fleet.sign(v1(1));
        assertEquals(Outcome.OK, fleet.deploy(agent, first).report().getOutcome());
        String r1 = fleet.current("n1", "shop");
        int before = mirror.requests();
        DeployReport again = fleet.deploy(agent, first).report();
        assertEquals(Outcome.UNCHANGED, again.getOutcome(), again.getError());
        assertEquals(r1, fleet.current("n1", "shop"), "a no-op leaves `current` alone");
        assertEquals(before, mirror.requests(), "a no-op asks the mirror nothing");
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));

        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v2(2))).report().getOutcome());
        assertEquals("43", python(agent, "import mypkg; print(mypkg.ANSWER)"));
        int requests = mirror.requests();
        DeployReport back = fleet.deploy(agent, fleet.sign(v1(3))).report();
        assertEquals(Outcome.OK, back.getOutcome(), back.getError());
        assertEquals(r1, fleet.current("n1", "shop"));
        assertEquals(requests, mirror.requests(), "a rollback to a release on disk asks the mirror nothing");
        assertTrue(back.getArtifactsList().stream().allMatch(a -> a.getSource() == Source.STORE));
        assertEquals("42", python(agent, "import mypkg; print(mypkg.ANSWER)"));
    }

    @Test
    void halfBuiltReleaseIsCleanedAtStart() throws Exception {
        Path staging = fleet.root("n1").resolve("apps/shop/releases/.staging-0123456789abcdef");
        Files.createDirectories(staging.resolve("lib"));
        Files.writeString(staging.resolve("lib/partial.py"), "x = 1\n");
        Agent agent = fleet.start("n1");
        assertFalse(Files.exists(staging));
        assertNull(fleet.current("n1", "shop"));
        assertNotNull(agent);
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
    }

    private static HookCommand cmd(int timeout, String... argv) {
        return HookCommand.newBuilder().addAllArgv(List.of(argv)).setTimeoutSeconds(timeout).build();
    }

    private static HealthCheck pythonCheck(String code, int retries) {
        return HealthCheck.newBuilder().setCommand(cmd(0, "bin/python", "-c", code)).setTimeoutSeconds(10)
                .setRetries(retries).setIntervalMs(50).build();
    }

    @Test
    void unhealthyReleaseIsSwitchedBackByTheAgentAndReportedReverted() throws Exception {
        Agent agent = fleet.start("n1");
        // The hook records which release it ran in; the check accepts only ANSWER == 42 (v1).
        HookCommand hook = cmd(10, "bin/python", "-c",
                "import os; open(os.path.join(os.environ['PINFLEET_RELEASE_DIR'], '..', '..', 'hook.log'), 'a')"
                        + ".write(os.environ['PINFLEET_RELEASE'] + '\\n'); print('reloaded', os.environ['PINFLEET_APP'])");
        HealthCheck check = pythonCheck("import sys, mypkg; print('answer', mypkg.ANSWER); sys.exit(mypkg.ANSWER != 42)", 2);
        Manifest good = v1(1).toBuilder().setPostSwitchHook(hook).setHealthCheck(check).build();
        DeployReport ok = fleet.deploy(agent, fleet.sign(good)).report();
        assertEquals(Outcome.OK, ok.getOutcome(), ok.getError());
        assertEquals(List.of("hook", "health"), ok.getChecksList().stream().map(c -> c.getKind()).toList());
        assertEquals("reloaded shop", ok.getChecks(0).getOutput().strip());
        String r1 = fleet.current("n1", "shop");

        Manifest bad = v2(2).toBuilder().setPostSwitchHook(hook).setHealthCheck(check).build();
        TestFleet.Result r = fleet.deploy(agent, fleet.sign(bad));
        DeployReport rep = r.report();
        assertEquals(Outcome.REVERTED, rep.getOutcome(), rep.getError());
        assertEquals(Phase.HEALTH, rep.getFailedPhase());
        assertTrue(rep.getError().contains("switched back to release " + r1), rep.getError());
        assertTrue(rep.getError().contains("unhealthy after 3 attempt(s)"), rep.getError());
        List<String> kinds = rep.getChecksList().stream().map(c -> c.getKind() + c.getAttempt()).toList();
        assertEquals(List.of("hook1", "health1", "health2", "health3", "hook-after-revert1"), kinds);
        assertEquals("answer 43", rep.getChecks(1).getOutput().strip());
        assertEquals(1, rep.getChecks(1).getCode());
        assertTrue(r.events().stream().anyMatch(DeployEvent::hasCheck), "checks are streamed as they finish");
        assertEquals(r1, fleet.current("n1", "shop"), "current is back on the healthy release");
        assertEquals("42", python(agent, "import mypkg; print(mypkg.ANSWER)"));
        List<String> hookLog = Files.readAllLines(fleet.root("n1").resolve("apps/shop/hook.log"));
        assertEquals(List.of(r1, rep.getRelease(), r1), hookLog, "hook ran for v1, for v2, and for v1 after the revert");

        StatusResponse s = AgentServiceGrpc.newBlockingStub(fleet.channel(agent)).status(StatusRequest.getDefaultInstance());
        AppStatus st = s.getApps(0);
        assertEquals(Outcome.REVERTED, st.getLastOutcome());
        assertEquals(2, st.getSerial(), "the serial stays consumed: the reverted manifest cannot be replayed");
        assertEquals(r1, st.getRelease());
        assertEquals(ManifestCodec.contentDigest(good), st.getManifestDigest());
        assertEquals(Health.HEALTH_UNKNOWN, st.getHealth(), "not checked since the switch back");
        AppStatus probed = AgentServiceGrpc.newBlockingStub(fleet.channel(agent))
                .status(StatusRequest.newBuilder().setProbeHealth(true).build()).getApps(0);
        assertEquals(Health.HEALTHY, probed.getHealth(), probed.getHealthDetail());
        assertEquals(Outcome.FAILED, fleet.deploy(agent, fleet.sign(bad)).report().getOutcome(), "replay refused");
    }

    @Test
    void failingOrHangingHookRevertsAndAFirstReleaseLeavesNoCurrent() throws Exception {
        Agent agent = fleet.start("n1");
        Manifest hangs = v1(1).toBuilder().setPostSwitchHook(cmd(1, "/bin/sleep", "30")).build();
        DeployReport rep = fleet.deploy(agent, fleet.sign(hangs)).report();
        assertEquals(Outcome.REVERTED, rep.getOutcome(), rep.getError());
        assertEquals(Phase.HOOK, rep.getFailedPhase());
        assertTrue(rep.getError().contains("removed `current` (there was no previous release)"), rep.getError());
        assertTrue(rep.getChecks(0).getOutput().contains("killed after the timeout of 1 s"), rep.getChecks(0).getOutput());
        // the hook sleeps 30 s: anything shorter means it was killed (the margin to the 1 s timeout is 29 s)
        assertTrue(rep.getChecks(0).getMillis() < 30_000, "killed at its timeout, not after 30 s");
        assertNull(fleet.current("n1", "shop"));

        Manifest fails = v1(2).toBuilder().setPostSwitchHook(cmd(10, "bin/python", "-c",
                "print('x' * 10000); raise SystemExit(3)")).build();
        rep = fleet.deploy(agent, fleet.sign(fails)).report();
        assertEquals(Outcome.REVERTED, rep.getOutcome());
        assertEquals(3, rep.getChecks(0).getCode());
        assertTrue(rep.getChecks(0).getOutput().endsWith("…[truncated]"), "output is truncated");
        assertTrue(rep.getChecks(0).getOutput().getBytes(java.nio.charset.StandardCharsets.UTF_8).length <= 4096);
        assertTrue(rep.getError().contains("exit 3"), rep.getError());
    }

    @Test
    void httpHealthCheckOnLoopbackAndANonLoopbackUrlIsRefused() throws Exception {
        Agent agent = fleet.start("n1");
        com.sun.net.httpserver.HttpServer http = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        java.util.concurrent.atomic.AtomicInteger status = new java.util.concurrent.atomic.AtomicInteger(200);
        http.createContext("/health", ex -> {
            ex.sendResponseHeaders(status.get(), -1);
            ex.close();
        });
        http.start();
        try {
            String url = "http://127.0.0.1:" + http.getAddress().getPort() + "/health";
            HealthCheck h = HealthCheck.newBuilder().setHttpUrl(url).setTimeoutSeconds(5).setRetries(1).build();
            assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1).toBuilder().setHealthCheck(h).build()))
                    .report().getOutcome());
            status.set(503);
            DeployReport rep = fleet.deploy(agent, fleet.sign(v2(2).toBuilder().setHealthCheck(h).build())).report();
            assertEquals(Outcome.REVERTED, rep.getOutcome());
            assertTrue(rep.getError().contains("HTTP 503"), rep.getError());
            StatusResponse s = AgentServiceGrpc.newBlockingStub(fleet.channel(agent))
                    .status(StatusRequest.newBuilder().setProbeHealth(true).build());
            assertEquals(Health.UNHEALTHY, s.getApps(0).getHealth(), "probed now: the service answers 503");

            HealthCheck remote = h.toBuilder().setHttpUrl("http://10.1.2.3:8080/health").build();
            rep = fleet.deploy(agent, fleet.sign(v2(3).toBuilder().setHealthCheck(remote).build())).report();
            assertEquals(Outcome.FAILED, rep.getOutcome());
            assertEquals(Phase.VERIFY, rep.getFailedPhase());
            assertTrue(rep.getError().contains("manifest field health_check: http_url 'http://10.1.2.3:8080/health'"
                    + " must name a loopback address"), rep.getError());
        } finally {
            http.stop(0);
        }
    }

    @Test
    void slowHookSendsProgressEventsWhileItRuns() throws Exception {
        Agent agent = fleet.start("n1");
        // Beats are due every second; the hook runs 5 s, so two beats leave 3 s for a busy machine to be late.
        Manifest m = v1(1).toBuilder().setPostSwitchHook(cmd(30, "/bin/sleep", "5")).build();
        TestFleet.Result r = fleet.deploy(agent, fleet.sign(m));
        assertEquals(Outcome.OK, r.report().getOutcome(), r.report().getError());
        long beats = r.events().stream().filter(e -> e.hasProgress() && e.getProgress().getPhase() == Phase.HOOK).count();
        assertTrue(beats >= 2, "a heartbeat about every second while the hook runs, got " + beats);
    }

    @Test
    void severalAppsKeepTheirOwnSerialsReleasesAndCurrent() throws Exception {
        Agent agent = fleet.start("n1");
        Manifest shop = v1(5);
        Manifest blog = TestFleet.manifest("blog", 1, List.of(core, appV2)).build();
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(shop)).report().getOutcome());
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(blog)).report().getOutcome(),
                "serial 1 is fine for another app although shop is at 5");
        assertEquals(ManifestCodec.releaseId(ManifestCodec.contentDigest(shop)), fleet.current("n1", "shop"));
        assertEquals(ManifestCodec.releaseId(ManifestCodec.contentDigest(blog)), fleet.current("n1", "blog"));
        Path blogPy = fleet.root("n1").resolve("apps/blog/current/bin/python");
        assertEquals("43", TestWheels.run(List.of(blogPy.toString(), "-c", "import mypkg; print(mypkg.ANSWER)")).strip());
        assertEquals("42", python(agent, "import mypkg; print(mypkg.ANSWER)"));
        StatusResponse s = AgentServiceGrpc.newBlockingStub(fleet.channel(agent)).status(StatusRequest.getDefaultInstance());
        assertEquals(List.of("blog", "shop"), s.getAppsList().stream().map(AppStatus::getApp).toList());
        assertEquals(List.of(1L, 5L), s.getAppsList().stream().map(AppStatus::getSerial).toList());
        assertEquals(Outcome.FAILED, fleet.deploy(agent, fleet.sign(TestFleet.manifest("blog", 1, List.of(core, app))
                .build())).report().getOutcome(), "blog's serial is blog's own");
        StatusResponse onlyShop = AgentServiceGrpc.newBlockingStub(fleet.channel(agent))
                .status(StatusRequest.newBuilder().setApp("shop").build());
        assertEquals(1, onlyShop.getAppsCount());
    }

    @Test
    void planSaysWhatADeployWouldDoWithoutDownloadingAnything() throws Exception {
        Agent agent = fleet.start("n1", Map.of("keep-releases", "2"));
        AgentServiceGrpc.AgentServiceBlockingStub stub = AgentServiceGrpc.newBlockingStub(fleet.channel(agent));
        PlanResponse first = stub.plan(PlanRequest.newBuilder().setManifest(fleet.sign(v1(1))).build());
        assertEquals("", first.getRefused());
        assertEquals(2, first.getFetchCount());
        assertEquals(core.getSize() + app.getSize(), first.getFetchBytes());
        assertEquals(2, first.getInstallCount());
        assertEquals(0, mirror.requests(), "plan downloads nothing");
        assertNull(fleet.current("n1", "shop"), "plan changes nothing");

        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v1(1))).report().getOutcome());
        String r1 = fleet.current("n1", "shop");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v2(2))).report().getOutcome());
        Artifact appV3 = publish(TestWheels.wheel("mypkg", "3.0").file("mypkg/__init__.py", "ANSWER = 3\n")
                .build(dir.resolve("wheels")));
        int requests = mirror.requests();
        PlanResponse p = stub.plan(PlanRequest.newBuilder().setManifest(fleet.sign(
                TestFleet.manifest("shop", 3, List.of(appV3)).build())).build());
        assertEquals(List.of(appV3.getFilename()), p.getFetchList().stream().map(Artifact::getFilename).toList(),
                "core-lib is in the store already");
        assertEquals(List.of("core-lib 1.0->", "mypkg 2.0->3.0"), p.getChangesList().stream()
                .map(c -> c.getName() + " " + c.getFromVersion() + "->" + c.getToVersion()).toList());
        assertEquals(List.of(r1), p.getRemoveReleasesList(), "keep-releases=2: the oldest release would go");
        assertEquals(requests, mirror.requests());

        PlanResponse rollback = stub.plan(PlanRequest.newBuilder().setManifest(fleet.sign(v1(3))).build());
        assertTrue(rollback.getReleaseOnDisk());
        assertEquals(0, rollback.getFetchCount());
        assertEquals(0, rollback.getInstallCount());
        PlanResponse stale = stub.plan(PlanRequest.newBuilder().setManifest(fleet.sign(v1(1))).build());
        assertTrue(stale.getRefused().contains("not greater than the last applied serial 2"), stale.getRefused());
    }

    @Test
    void keptReleasesAreListedWithSerialsAndTheirSignedManifestsServedAsDeployed() throws Exception {
        Agent agent = fleet.start("n1");
        SignedManifest first = fleet.sign(v1(1));
        assertEquals(Outcome.OK, fleet.deploy(agent, first).report().getOutcome());
        String r1 = fleet.current("n1", "shop");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(v2(2))).report().getOutcome());
        AgentServiceGrpc.AgentServiceBlockingStub stub = AgentServiceGrpc.newBlockingStub(fleet.channel(agent));
        AppStatus st = stub.status(StatusRequest.getDefaultInstance()).getApps(0);
        assertEquals(List.of(2L, 1L), st.getKeptList().stream().map(KeptRelease::getSerial).toList());
        assertTrue(st.getKept(0).getCurrent());
        assertEquals(ManifestCodec.contentDigest(v1(1)), st.getKept(1).getManifestDigest());
        ReleaseManifestResponse rm = stub.releaseManifest(ReleaseManifestRequest.newBuilder().setApp("shop")
                .setRelease(r1).build());
        assertEquals(first, rm.getManifest());
        assertEquals(1, rm.getSerial());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.releaseManifest(
                ReleaseManifestRequest.newBuilder().setApp("shop").setRelease("../../../etc").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("not a release id"), e.getStatus().getDescription());
    }

    @Test
    void theRoleInterceptorAuthorizesExactlyTheMethodsTheAgentServes() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(agent.registeredMethods(), new java.util.TreeSet<>(RoleInterceptor.authorizedMethods()));
        assertEquals(5, agent.registeredMethods().size(), "Deploy, Status, Plan, ReleaseManifest, Cancel");
    }
}

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
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
        mirror.put(app.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(app.getFilename())),
                FakeMirror.Reply.delayed(Duration.ofMillis(1500)));
        CompletableFuture<TestFleet.Result> first = CompletableFuture.supplyAsync(() -> fleet.deploy(agent, fleet.sign(v1(1))));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!agent.engine().busy() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(agent.engine().busy());
        Iterator<DeployEvent> second = AgentServiceGrpc.newBlockingStub(fleet.channel(agent))
                .deploy(DeployRequest.newBuilder().setManifest(fleet.sign(v2(2))).build());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, second::hasNext);
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("already running a deploy"), e.getStatus().getDescription());
        assertEquals(Outcome.OK, first.get(30, TimeUnit.SECONDS).report().getOutcome());
    }

    @Test
    void sameManifestAgainIsANoOpAndRollbackSwitchesWithoutFetching() throws Exception {
        Agent agent = fleet.start("n1");
        SignedManifest first = fleet.sign(v1(1));
        assertEquals(Outcome.OK, fleet.deploy(agent, first).report().getOutcome());
        String r1 = fleet.current("n1", "shop");
        DeployReport again = fleet.deploy(agent, first).report();
        assertEquals(Outcome.UNCHANGED, again.getOutcome(), again.getError());

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
    }
}

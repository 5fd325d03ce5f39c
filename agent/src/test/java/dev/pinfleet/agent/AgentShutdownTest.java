package dev.pinfleet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.deploy.DeployEngine;
import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.InFlightDeploy;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to a real agent process during a deploy whose download is slow: with a short shutdown-seconds the deploy
 * is aborted (report says so, old release current, nothing half-written); with a long one it finishes first.
 */
class AgentShutdownTest {
    @TempDir Path dir;
    FakeMirror mirror;
    KeyPair key = Keys.generate();
    Artifact core;
    Artifact app;
    Artifact appV2;
    Path trusted;

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        trusted = Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(trusted.resolve("release.pub"), key.getPublic());
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        core = publish(TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n").build(wheels));
        app = publish(TestWheels.wheel("mypkg", "1.0").file("mypkg/__init__.py", "ANSWER = 42\n").build(wheels));
        appV2 = TestWheels.wheelArtifact(TestWheels.wheel("mypkg", "2.0").file("mypkg/__init__.py", "ANSWER = 43\n")
                .build(wheels));
    }

    private Artifact publish(Path wheel, Reply... script) throws Exception {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel), script);
        return TestWheels.wheelArtifact(wheel);
    }

    @AfterEach
    void tearDown() {
        mirror.close();
    }

    private AgentProcess start(int shutdownSeconds) throws Exception {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", "n1");
        cfg.put("root", dir.resolve("root").toString());
        cfg.put("listen", "127.0.0.1:0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", trusted.toString());
        cfg.put("mirrors", mirror.baseUri().toString());
        cfg.put("python", "python3");
        cfg.put("shutdown-seconds", Integer.toString(shutdownSeconds));
        return AgentProcess.start(dir.resolve("proc"), cfg);
    }

    private DeployRequest request(long serial, List<Artifact> artifacts) {
        Manifest m = TestFleet.manifest("shop", serial, artifacts).build();
        return DeployRequest.newBuilder().setDeployId("t")
                .setManifest(Envelope.sign(ManifestCodec.toJson(m), List.of(key))).build();
    }

    private static String releaseOf(DeployRequest r) throws Exception {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(ManifestCodec.parse(
                r.getManifest().getPayload().toByteArray())));
    }

    private InFlightDeploy deployAsync(AgentProcess agent, DeployRequest req) {
        return InFlightDeploy.start(agent.channel(), req, Phase.FETCH);
    }

    private String current() throws Exception {
        Path link = dir.resolve("root/apps/shop/current");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    private List<String> leftovers() throws Exception {
        try (Stream<Path> s = Stream.concat(Files.list(dir.resolve("root/apps/shop/releases")),
                Files.list(dir.resolve("root/store/tmp")))) {
            return s.map(p -> dir.relativize(p).toString()).filter(n -> n.contains(".staging-") || n.contains("/tmp/"))
                    .toList();
        }
    }

    /** Waits until the slow download has reached the mirror (bounded: 10 s). */
    private void awaitRequest(String path) throws InterruptedException {
        for (int i = 0; i < 200 && mirror.requests(path) == 0; i++) {
            Thread.sleep(50);
        }
        assertTrue(mirror.requests(path) > 0, "the agent never asked the mirror for " + path);
    }

    @Test
    void sigtermDuringASlowFetchAbortsWithTheOldReleaseCurrent() throws Exception {
        mirror.put(appV2.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(appV2.getFilename())),
                Reply.delayed(Duration.ofSeconds(90)));
        try (AgentProcess agent = start(1)) {
            DeployRequest v1 = request(1, List.of(core, app));
            DeployReport first = deployAsync(agent, v1).report().get(60, TimeUnit.SECONDS);
            assertEquals(Outcome.OK, first.getOutcome(), first.getError());
            String before = releaseOf(v1);
            assertEquals(before, current());

            InFlightDeploy second = deployAsync(agent, request(2, List.of(core, appV2)));
            second.reached().get(30, TimeUnit.SECONDS);
            awaitRequest(appV2.getFilename());
            long t0 = System.nanoTime();
            int exit = agent.terminate(Duration.ofSeconds(30));
            long stopMillis = (System.nanoTime() - t0) / 1_000_000;

            DeployReport r = second.report().get(5, TimeUnit.SECONDS);
            System.out.println("report of the aborted deploy (agent stopped " + stopMillis + " ms after SIGTERM): "
                    + r.getError());
            assertEquals(Outcome.FAILED, r.getOutcome(), r.toString());
            assertEquals(Phase.FETCH, r.getFailedPhase());
            assertTrue(r.getError().startsWith("node n1: " + DeployEngine.ABORTED), r.getError());
            assertTrue(r.getError().contains("shutdown-seconds=1"), r.getError());
            assertTrue(r.getError().contains("release " + before + " stays current"), r.getError());
            assertEquals(143, exit, "exit status after SIGTERM; log:\n" + agent.log());
            assertTrue(stopMillis < 1000 + Agent.ABORT_GRACE.toMillis(), "stopped in " + stopMillis + " ms");
            assertEquals(before, current(), "the node stays on its old release");
            assertEquals(List.of(), leftovers(), "no half-built release and no partial download is left");
            assertTrue(Files.exists(dir.resolve("root/apps/shop/releases").resolve(before)));
        }
    }

    @Test
    void aDeployThatArrivesWhileTheAgentStopsIsRefusedBeforeItTouchesAnything() throws Exception {
        try (TestFleet fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri())) {
            Agent agent = fleet.start("n1");
            DeployReport first = fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 1, List.of(core, app)).build()))
                    .report();
            assertEquals(Outcome.OK, first.getOutcome(), first.getError());
            String before = fleet.current("n1", "shop");
            agent.engine().abort();
            DeployReport r = fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 2, List.of(core)).build())).report();
            assertEquals(Outcome.FAILED, r.getOutcome());
            assertEquals(Phase.VERIFY, r.getFailedPhase());
            assertTrue(r.getError().startsWith("node n1: " + DeployEngine.ABORTED + ": "), r.getError());
            assertEquals(before, fleet.current("n1", "shop"));
            assertTrue(agent.engine().awaitIdle(Duration.ZERO), "the engine is idle again");
        }
    }

    @Test
    void sigtermDuringAShortFetchLetsTheDeployFinishWithinShutdownSeconds() throws Exception {
        mirror.put(appV2.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(appV2.getFilename())),
                Reply.delayed(Duration.ofMillis(1500)));
        try (AgentProcess agent = start(60)) {
            DeployRequest v2 = request(1, List.of(core, appV2));
            InFlightDeploy deploy = deployAsync(agent, v2);
            deploy.reached().get(30, TimeUnit.SECONDS);
            awaitRequest(appV2.getFilename());
            int exit = agent.terminate(Duration.ofSeconds(60));

            DeployReport r = deploy.report().get(5, TimeUnit.SECONDS);
            assertEquals(Outcome.OK, r.getOutcome(), r.getError() + "\nlog:\n" + agent.log());
            assertEquals(143, exit);
            assertEquals(releaseOf(v2), current(), "the deploy finished and switched before the agent stopped");
            assertEquals(List.of(), leftovers());
        }
    }
}

package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.InFlightDeploy;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.CancelRequest;
import dev.pinfleet.proto.v1.CancelResponse;
import dev.pinfleet.proto.v1.CancelState;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.StatusRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Cancel RPC over real gRPC on loopback against a real agent: a deploy cancelled before its switch ends FAILED
 * with reason CANCELLED and leaves `current` and the root as they were; after the switch it is too late.
 */
class CancelTest {
    @TempDir Path dir;
    FakeMirror mirror;
    TestFleet fleet;
    Path wheels;
    Artifact v1;
    Artifact v2;

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        wheels = Files.createDirectories(dir.resolve("wheels"));
        v1 = publish(TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n").build(wheels));
        v2 = publish(TestWheels.wheel("shoplib", "2.0").file("shoplib/__init__.py", "V = 2\n").build(wheels));
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        mirror.close();
    }

    private Artifact publish(Path wheel, FakeMirror.Reply... script) throws Exception {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel), script);
        return TestWheels.wheelArtifact(wheel);
    }

    private InFlightDeploy deployAsync(Agent agent, Manifest m, String deployId, Phase until) {
        return InFlightDeploy.start(fleet.channel(agent), DeployRequest.newBuilder().setManifest(fleet.sign(m))
                .setDeployId(deployId).build(), until);
    }

    private CancelResponse cancel(Agent agent, String deployId, String reason) {
        return AgentServiceGrpc.newBlockingStub(fleet.channel(agent)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .cancel(CancelRequest.newBuilder().setDeployId(deployId).setReason(reason).build());
    }

    private AppStatus status(Agent agent) {
        return AgentServiceGrpc.newBlockingStub(fleet.channel(agent)).status(StatusRequest.newBuilder().setApp("shop")
                .build()).getApps(0);
    }

    /** Waits (at most 30 s) until the agent has asked the mirror for {@code file}. */
    private void awaitRequest(String file) throws InterruptedException {
        for (int i = 0; i < 600 && mirror.requests(file) == 0; i++) {
            Thread.sleep(50);
        }
        assertTrue(mirror.requests(file) > 0, "the agent never asked the mirror for " + file);
    }

    @Test
    void aDeployCancelledWhileFetchingEndsCancelledWithCurrentUnchangedAndTheRootClean() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 1, List.of(v1)).build()))
                .report().getOutcome());
        String before = fleet.current("n1", "shop");
        // the download would take two minutes: only the cancel can end the deploy within the waits below
        mirror.put(v2.getFilename(), Files.readAllBytes(wheels.resolve(v2.getFilename())),
                FakeMirror.Reply.delayed(Duration.ofSeconds(120)));
        InFlightDeploy d = deployAsync(agent, TestFleet.manifest("shop", 2, List.of(v2)).build(), "rollout-7/n1",
                Phase.FETCH);
        d.reached().get(30, TimeUnit.SECONDS);
        awaitRequest(v2.getFilename());

        CancelResponse c = cancel(agent, "rollout-7/n1", "rollout 7 cancelled by alice: wrong pins");
        assertEquals(CancelState.CANCEL_STOPPING, c.getState(), c.getMessage());
        assertEquals(Phase.FETCH, c.getPhase());
        assertEquals("rollout-7/n1", c.getRunningDeployId());
        assertEquals("n1", c.getNode());

        DeployReport r = d.report().get(60, TimeUnit.SECONDS);
        assertEquals(Outcome.FAILED, r.getOutcome(), r.toString());
        assertEquals(FailureReason.REASON_CANCELLED, r.getReason());
        assertEquals(Phase.FETCH, r.getFailedPhase());
        assertTrue(r.getError().startsWith("node n1: cancelled by plaintext client /127.0.0.1:"), r.getError());
        assertTrue(r.getError().endsWith(" (rollout 7 cancelled by alice: wrong pins) and was stopped in FETCH;"
                + " release " + before + " stays current"), r.getError());
        assertEquals(before, fleet.current("n1", "shop"), "`current` unchanged");
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
        assertTrue(agent.engine().awaitIdle(Duration.ofSeconds(10)));
        AppStatus s = status(agent);
        assertEquals(1, s.getSerial(), "the cancelled serial was not consumed");
        assertEquals(FailureReason.REASON_CANCELLED, s.getLastReason());
        assertEquals("rollout-7/n1", s.getLastDeployId());

        // the same deploy again, the mirror fast now: it runs as if the cancelled one never was
        mirror.put(v2.getFilename(), Files.readAllBytes(wheels.resolve(v2.getFilename())));
        DeployReport again = fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 2, List.of(v2)).build()))
                .report();
        assertEquals(Outcome.OK, again.getOutcome(), again.getError());
        assertEquals(CancelState.CANCEL_NOT_RUNNING, cancel(agent, "rollout-7/n1", "late").getState(),
                "a deploy that has ended is not running");
    }

    @Test
    void afterTheSwitchItIsTooLateAndTheDeployFinishes() throws Exception {
        Agent agent = fleet.start("n1");
        assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 1, List.of(v1)).build()))
                .report().getOutcome());
        Path go = dir.resolve("go");
        // the hook waits (at most 60 s) for the test to let it finish
        Manifest m = TestFleet.manifest("shop", 2, List.of(v2)).setPostSwitchHook(HookCommand.newBuilder()
                .addAllArgv(List.of("/bin/sh", "-c", "i=0; while [ ! -e '" + go + "' ] && [ $i -lt 600 ]; do"
                        + " sleep 0.1; i=$((i+1)); done")).setTimeoutSeconds(120)).build();
        InFlightDeploy d = deployAsync(agent, m, "rollout-8/n1", Phase.HOOK);
        d.reached().get(60, TimeUnit.SECONDS);

        CancelResponse c = cancel(agent, "rollout-8/n1", "too late");
        assertEquals(CancelState.CANCEL_TOO_LATE, c.getState(), c.getMessage());
        assertEquals(Phase.HOOK, c.getPhase());
        assertTrue(c.getMessage().contains("too late to cancel, it finishes normally"), c.getMessage());
        Files.writeString(go, "");
        DeployReport r = d.report().get(60, TimeUnit.SECONDS);
        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
        assertEquals(ManifestCodec.releaseId(ManifestCodec.contentDigest(m)), fleet.current("n1", "shop"));
    }

    @Test
    void onlyTheRunningDeployByItsIdAndAValidRequest() throws Exception {
        Agent agent = fleet.start("n1");
        CancelResponse none = cancel(agent, "rollout-1/n1", "");
        assertEquals(CancelState.CANCEL_NOT_RUNNING, none.getState());
        assertEquals("", none.getRunningDeployId());
        assertEquals(Phase.PHASE_UNSPECIFIED, none.getPhase());

        mirror.put(v2.getFilename(), Files.readAllBytes(wheels.resolve(v2.getFilename())),
                FakeMirror.Reply.delayed(Duration.ofSeconds(3)));
        InFlightDeploy d = deployAsync(agent, TestFleet.manifest("shop", 1, List.of(v2)).build(), "rollout-2/n1",
                Phase.FETCH);
        d.reached().get(30, TimeUnit.SECONDS);
        CancelResponse other = cancel(agent, "rollout-1/n1", "wrong one");
        assertEquals(CancelState.CANCEL_NOT_RUNNING, other.getState());
        assertEquals("rollout-2/n1", other.getRunningDeployId(), "names the deploy that runs");
        assertTrue(other.getMessage().contains("deploy 'rollout-1/n1' is not running (deploy 'rollout-2/n1' is)"),
                other.getMessage());

        for (CancelRequest bad : List.of(CancelRequest.newBuilder().setReason("no id").build(),
                CancelRequest.newBuilder().setDeployId("rollout-2/n1").setReason("x".repeat(1025)).build())) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> AgentServiceGrpc
                    .newBlockingStub(fleet.channel(agent)).cancel(bad));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().startsWith("node n1: cancel: "), e.getStatus().getDescription());
        }
        DeployReport r = d.report().get(60, TimeUnit.SECONDS);
        assertEquals(Outcome.OK, r.getOutcome(), "nothing cancelled it: " + r.getError());
    }
}

package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.agent.state.DeployRecord;
import dev.pinfleet.agent.state.PendingChecks;
import dev.pinfleet.agent.testing.ManualClock;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Source;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Step SWITCH on a real agent root: what it records before `current` moves (serial, release, digest, the checks the
 * release owes, the attempt heading for OK or UNCHANGED), that `current` moves only when the release is not current
 * already, and what {@link SwitchStep#settle} records once the deploy ended.
 */
class SwitchStepTest {
    private static final Instant T0 = Instant.parse("2026-12-06T00:00:00Z");

    @TempDir
    Path root;
    private ManualClock clock;
    private AppLayout layout;
    private Releases releases;
    private SwitchStep step;

    @BeforeEach
    void setUp() throws Exception {
        clock = new ManualClock(T0, Duration.ZERO);
        layout = AppLayout.of(root, "web");
        Files.createDirectories(layout.release("r-old"));
        Files.createDirectories(layout.release("r-new"));
        Durable.swapSymlink(layout.current(), layout.dir().relativize(layout.release("r-old")));
        releases = new Releases(root, 3, 0, null, null, clock);
        step = new SwitchStep(releases, HaltPoint.none());
    }

    private static Manifest.Builder manifest() {
        return Manifest.newBuilder().setApp("web").setSerial(7).setPython("3.11");
    }

    private DeployRun run(Manifest m, AppState state, String current) {
        DeployRun run = new DeployRun(DeployRequest.newBuilder().setDeployId("d-42").build(),
                new Ticker(e -> { }, clock, root.resolve("downloads")), new StopGate(), clock);
        String digest = ManifestCodec.contentDigest(m);
        run.baseline(new VerifyStep.Baseline(new VerifyStep.Verified(SignedManifest.getDefaultInstance(), m, digest,
                ManifestCodec.releaseId(digest)), layout, state, current));
        return run;
    }

    private static PlanStep.DeployPlan plan(String release, boolean isCurrent, boolean resumeChecks) {
        return new PlanStep.DeployPlan(release, isCurrent, resumeChecks, true, List.of(), List.of(), 0, null);
    }

    private String current() throws Exception {
        return Files.readSymbolicLink(layout.current()).getFileName().toString();
    }

    @Test
    void aNewReleaseIsRecordedWithTheChecksItOwesThenSwitchedTo() throws Exception {
        Manifest m = manifest().setPostSwitchHook(HookCommand.newBuilder().addArgv("true"))
                .setHealthCheck(HealthCheck.getDefaultInstance()).build();
        AppState before = AppState.newBuilder().setApp("web").setSerial(6).setRelease("r-old").build();
        DeployRun run = run(m, before, "r-old");
        AppState.Builder next = step.run(plan("r-new", false, false), run);

        assertEquals("r-new", current());
        AppState recorded = StateStore.read(layout, "web");
        assertEquals(7, recorded.getSerial());
        assertEquals("r-new", recorded.getRelease());
        assertEquals(ManifestCodec.contentDigest(m), recorded.getManifestDigest());
        assertEquals(PendingChecks.newBuilder().setRelease("r-new").setPreviousRelease("r-old").setDeployId("d-42")
                .build(), recorded.getPending());
        DeployRecord attempt = recorded.getLast();
        assertEquals(Outcome.OK, attempt.getOutcome());
        assertEquals(FailureReason.REASON_UNSPECIFIED, attempt.getReason());
        assertEquals(0, attempt.getEndedUnixMs(), "not ended while the checks still run");
        assertEquals(T0.toEpochMilli(), Files.getLastModifiedTime(layout.release("r-new")).toMillis(),
                "the switch stamps the release with the clock's time");
        // what the deploy records once it ends well owes nothing
        assertFalse(next.hasPending());
        assertEquals("r-new", next.getRelease());

        clock.advance(Duration.ofSeconds(3));
        step.settle(plan("r-new", false, false), next, run);
        AppState settled = StateStore.read(layout, "web");
        assertFalse(settled.hasPending());
        assertEquals(Outcome.OK, settled.getLast().getOutcome());
        assertEquals(T0.plusSeconds(3).toEpochMilli(), settled.getLast().getEndedUnixMs());
        assertEquals(1, settled.getHistoryCount(), "the settled attempt replaces the one recorded at the switch");
        assertEquals(Outcome.OK, run.report().getOutcome());
    }

    @Test
    void theReportListsEveryArtifactOfTheManifestWithItsResultOnceTheReleaseIsSwitchedTo() throws Exception {
        Manifest m = manifest().addArtifacts(Artifact.newBuilder().setFilename("a-1.0-py3-none-any.whl"))
                .addArtifacts(Artifact.newBuilder().setFilename("b-2.0-py3-none-any.whl")).build();
        DeployRun run = run(m, AppState.getDefaultInstance(), "r-old");
        run.verified(run.baseline().verified());
        run.result("b-2.0-py3-none-any.whl").setSource(Source.STORE);
        assertEquals(List.of(), run.report().getArtifactsList(), "no rows before the switch");

        step.run(plan("r-new", false, false), run);

        assertEquals(List.of(ArtifactResult.newBuilder().setFilename("a-1.0-py3-none-any.whl").build(),
                ArtifactResult.newBuilder().setFilename("b-2.0-py3-none-any.whl").setSource(Source.STORE)
                        .build()), run.report().getArtifactsList(), "one row per artifact, in manifest order");
    }

    @Test
    void aFirstDeployOwesItsChecksWithNoPreviousRelease() throws Exception {
        Files.delete(layout.current());
        Manifest m = manifest().setHealthCheck(HealthCheck.getDefaultInstance()).build();
        step.run(plan("r-new", false, false), run(m, AppState.getDefaultInstance(), null));
        assertEquals("r-new", current());
        assertEquals(PendingChecks.newBuilder().setRelease("r-new").setDeployId("d-42").build(),
                StateStore.read(layout, "web").getPending());
    }

    @Test
    void aReleaseWithNeitherHookNorHealthCheckOwesNothing() throws Exception {
        step.run(plan("r-new", false, false), run(manifest().build(), AppState.getDefaultInstance(), "r-old"));
        assertEquals("r-new", current());
        assertFalse(StateStore.read(layout, "web").hasPending());
    }

    @Test
    void theCurrentReleaseAgainIsRecordedUnchangedAndCurrentDoesNotMove() throws Exception {
        Manifest m = manifest().setPostSwitchHook(HookCommand.newBuilder().addArgv("true")).build();
        DeployRun run = run(m, AppState.newBuilder().setApp("web").setSerial(6).setRelease("r-old").build(),
                "r-old");
        Path link = layout.current();
        var stamp = Files.getLastModifiedTime(layout.release("r-old"));
        AppState.Builder next = step.run(plan("r-old", true, false), run);

        assertEquals("r-old", current());
        assertEquals(stamp, Files.getLastModifiedTime(layout.release("r-old")), "no switch, no new stamp");
        AppState recorded = StateStore.read(layout, "web");
        assertEquals(7, recorded.getSerial());
        assertFalse(recorded.hasPending(), "the checks ran when the release was switched to");
        assertEquals(Outcome.UNCHANGED, recorded.getLast().getOutcome());
        step.settle(plan("r-old", true, false), next, run);
        assertEquals(Outcome.UNCHANGED, StateStore.read(layout, "web").getLast().getOutcome());
        assertEquals(Outcome.UNCHANGED, run.report().getOutcome());
        assertTrue(Files.isSymbolicLink(link));
    }

    @Test
    void checksResumedForTheCurrentReleaseStayOwedUntilSettledAndCountAsOk() throws Exception {
        PendingChecks owed = PendingChecks.newBuilder().setRelease("r-old").setPreviousRelease("r-older")
                .setDeployId("d-41").build();
        AppState before = AppState.newBuilder().setApp("web").setSerial(7).setRelease("r-old").setPending(owed)
                .build();
        Manifest m = manifest().setHealthCheck(HealthCheck.getDefaultInstance()).build();
        DeployRun run = run(m, before, "r-old");
        AppState.Builder next = step.run(plan("r-old", true, true), run);

        assertEquals("r-old", current());
        AppState recorded = StateStore.read(layout, "web");
        assertEquals(owed, recorded.getPending(), "still owed until they ran");
        assertEquals(Outcome.OK, recorded.getLast().getOutcome());
        assertFalse(next.hasPending());
        step.settle(plan("r-old", true, true), next, run);
        assertFalse(StateStore.read(layout, "web").hasPending());
        assertEquals(Outcome.OK, run.report().getOutcome());
    }
}

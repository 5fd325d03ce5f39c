package dev.pinfleet.agent.deploy;

import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Outcome;
import java.io.IOException;

/**
 * Step SWITCH: records the new serial and release in the app's state (before any effect, so a crash after it never
 * allows a replay), then swaps `current` to the release unless it is current already; after the post-switch step,
 * records how the deploy ended ({@link #settle}).
 */
final class SwitchStep {
    private final Releases releases;
    private final HaltPoint halt;

    SwitchStep(Releases releases, HaltPoint halt) {
        this.releases = releases;
        this.halt = halt;
    }

    /** Returns the state the deploy records once it ends well. */
    AppStatus.Builder run(PlanStep.DeployPlan plan, DeployRun run) throws IOException {
        VerifyStep.Baseline b = run.baseline();
        VerifyStep.Verified v = b.verified();
        AppStatus.Builder next = b.state().toBuilder().setApp(v.app()).setSerial(v.manifest().getSerial())
                .setRelease(plan.release()).setManifestDigest(v.digest()).setLastError("")
                .setLastOutcome(plan.unchanged() ? Outcome.UNCHANGED : Outcome.OK);
        StateStore.write(b.layout(), next.build());
        run.reportArtifacts();
        if (!plan.unchanged()) {
            halt.reach(HaltPoint.BEFORE_SWITCH);
            releases.switchTo(b.layout(), plan.release());
            halt.reach(HaltPoint.AFTER_SWITCH);
        }
        return next;
    }

    /** The deploy ended well: its state, with the releases now on disk, and its outcome. */
    void settle(PlanStep.DeployPlan plan, AppStatus.Builder next, DeployRun run) throws IOException {
        AppLayout layout = run.baseline().layout();
        StateStore.write(layout, next.clearReleases().addAllReleases(releases.list(layout)).build());
        run.report().setOutcome(plan.unchanged() ? Outcome.UNCHANGED : Outcome.OK);
    }
}

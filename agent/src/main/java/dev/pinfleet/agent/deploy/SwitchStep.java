package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.agent.state.PendingChecks;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Outcome;
import java.io.IOException;

/**
 * Step SWITCH: records the new serial and release in the app's state (before any effect, so a crash after it never
 * allows a replay), with the hook and health check the release then owes as pending, then swaps `current` to the
 * release unless it is current already; after the post-switch step, records how the deploy ended
 * ({@link #settle}), which clears what was pending.
 */
final class SwitchStep {
    private final Releases releases;
    private final HaltPoint halt;

    SwitchStep(Releases releases, HaltPoint halt) {
        this.releases = releases;
        this.halt = halt;
    }

    /** Returns the state the deploy records once it ends well. */
    AppState.Builder run(PlanStep.DeployPlan plan, DeployRun run) throws IOException {
        VerifyStep.Baseline b = run.baseline();
        VerifyStep.Verified v = b.verified();
        AppState.Builder next = b.state().toBuilder().setApp(v.app()).setSerial(v.manifest().getSerial())
                .setRelease(plan.release()).setManifestDigest(v.digest());
        next.clearPending();
        AppState.Builder recorded = next.clone();
        if (plan.resumeChecks()) {
            recorded.setPending(b.state().getPending()); // still owed until they ran
        } else if (!plan.isCurrent() && (v.manifest().hasPostSwitchHook() || v.manifest().hasHealthCheck())) {
            // owed until they ran: a crash before that leaves them for the same manifest's next deploy
            recorded.setPending(PendingChecks.newBuilder().setRelease(plan.release())
                    .setPreviousRelease(b.current() == null ? "" : b.current())
                    .setDeployId(run.request().getDeployId()));
        }
        StateStore.write(b.layout(), StateStore.attempt(recorded, run.attempt(outcome(plan),
                FailureReason.REASON_UNSPECIFIED, "", false)).build());
        run.reportArtifacts();
        if (!plan.isCurrent()) {
            halt.reach(HaltPoint.BEFORE_SWITCH);
            releases.switchTo(b.layout(), plan.release());
            halt.reach(HaltPoint.AFTER_SWITCH);
        }
        return next;
    }

    /** The deploy ended well: its state and its outcome. */
    void settle(PlanStep.DeployPlan plan, AppState.Builder next, DeployRun run) throws IOException {
        StateStore.write(run.baseline().layout(), StateStore.attempt(next, run.attempt(outcome(plan),
                FailureReason.REASON_UNSPECIFIED, "", true)).build());
        run.report().setOutcome(outcome(plan));
    }

    private static Outcome outcome(PlanStep.DeployPlan plan) {
        return plan.unchanged() ? Outcome.UNCHANGED : Outcome.OK;
    }
}

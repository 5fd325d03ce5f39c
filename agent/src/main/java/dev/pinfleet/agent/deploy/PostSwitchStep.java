package dev.pinfleet.agent.deploy;

import dev.pinfleet.fs.Durable;
import dev.pinfleet.agent.hooks.PostSwitch;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Steps HOOK and HEALTH, after `current` was switched: the manifest's hook, then its health check; a failure of
 * either switches back by itself ({@link #revert}: outcome REVERTED, the serial stays consumed).
 */
final class PostSwitchStep {
    private static final Logger LOG = Logger.getLogger(PostSwitchStep.class.getName());

    /** Why a switched-to release is reverted: the phase, the typed reason and the failed run in words. */
    record Failed(Phase phase, FailureReason reason, String why) {}

    private final String node;
    private final PostSwitch postSwitch;
    private final Releases releases;
    /** Last health-check result per app, since the agent started. */
    private final Map<String, CheckResult> health;

    PostSwitchStep(String node, PostSwitch postSwitch, Releases releases, Map<String, CheckResult> health) {
        this.node = node;
        this.postSwitch = postSwitch;
        this.releases = releases;
        this.health = health;
    }

    /** Runs the hook, then the health check (those the manifest has); returns why to revert, or null. */
    Failed run(DeployRun run) throws InterruptedException, DeployFailure {
        VerifyStep.Baseline b = run.baseline();
        Manifest m = b.verified().manifest();
        String id = b.verified().release();
        PostSwitch.Target target = new PostSwitch.Target(node, m.getApp(), id, b.layout().release(id));
        if (m.hasPostSwitchHook()) {
            run.begin(Phase.HOOK, 1);
            CheckResult r = postSwitch.hook("hook", m, target, run::check);
            if (!r.getOk()) {
                return new Failed(Phase.HOOK, FailureReason.REASON_HOOK_FAILED, PostSwitch.describe(r));
            }
        }
        if (m.hasHealthCheck()) {
            run.begin(Phase.HEALTH, 1 + m.getHealthCheck().getRetries());
            CheckResult r = postSwitch.health(m, target, run::check, run.events()::detail);
            health.put(m.getApp(), r);
            if (!r.getOk()) {
                return new Failed(Phase.HEALTH, FailureReason.REASON_HEALTH_FAILED, "unhealthy after "
                        + r.getAttempt() + " attempt(s): " + PostSwitch.describe(r));
            }
        }
        return null;
    }

    /**
     * Switches back to the plan's {@code revertTo} release, the one current before the switch (or removes `current`
     * when there was none), runs that release's hook so the service picks it up again, and records REVERTED. The
     * serial stays consumed: the state keeps it.
     */
    void revert(Failed failed, PlanStep.DeployPlan plan, AppState.Builder next, DeployRun run)
            throws IOException, InterruptedException {
        VerifyStep.Baseline b = run.baseline();
        AppLayout layout = b.layout();
        String app = b.verified().app();
        String previous = plan.revertTo();
        String back;
        String backDigest = "";
        Manifest pm = null;
        if (previous != null) {
            releases.switchTo(layout, previous);
            pm = Releases.manifestOf(layout.release(previous));
            backDigest = pm == null ? "" : ManifestCodec.contentDigest(pm);
            back = "switched back to release " + previous;
        } else {
            Files.deleteIfExists(layout.current());
            Durable.fsyncDirectory(layout.dir());
            back = "removed `current` (there was no previous release)";
        }
        String error = "node " + node + ": release " + b.verified().release() + " of app " + app + " reverted, "
                + back + ": " + failed.why();
        LOG.warning(error);
        next.setRelease(previous == null ? "" : previous).setManifestDigest(backDigest);
        StateStore.write(layout, StateStore.attempt(next, run.attempt(Outcome.REVERTED, failed.reason(), error, true))
                .build());
        run.report().setOutcome(Outcome.REVERTED).setFailedPhase(failed.phase()).setReason(failed.reason())
                .setError(error);
        if (previous != null) {
            if (pm != null && pm.hasPostSwitchHook()) {
                postSwitch.hook("hook-after-revert", pm, new PostSwitch.Target(node, app, previous,
                        layout.release(previous)), run::check);
            }
            health.remove(app);
        }
    }
}

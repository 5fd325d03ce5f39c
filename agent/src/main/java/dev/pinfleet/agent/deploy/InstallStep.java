package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.agent.install.BuildResult;
import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.agent.install.InstallResult;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.fs.Durable;
import java.io.IOException;

/**
 * Step INSTALL: builds the release the plan names under {@code .staging-ID} (unless it is on disk already), writes
 * the signed manifest into it, then renames it into place: a release directory named by its id is always complete.
 * On a simulated node a {@link StandIn} spends the build's time and the release directory holds only the manifest.
 */
final class InstallStep {
    private final ContentStore store;
    private final ReleaseBuilder builder;
    private final Releases releases;
    private final HaltPoint halt;
    private final String node;
    /** Null on a real node; see {@link StandIn}. */
    private final StandIn standIn;

    InstallStep(String node, ContentStore store, ReleaseBuilder builder, Releases releases, HaltPoint halt,
            StandIn standIn) {
        this.node = node;
        this.store = store;
        this.builder = builder;
        this.releases = releases;
        this.halt = halt;
        this.standIn = standIn;
    }

    void run(PlanStep.DeployPlan plan, DeployRun run) throws InstallException, IOException, InterruptedException {
        if (plan.onDisk()) {
            return;
        }
        VerifyStep.Baseline b = run.baseline();
        AppLayout layout = b.layout();
        String id = plan.release();
        Durable.deleteTree(layout.staging(id));
        AppReadable.createDirectories(layout.releases()); // apps/APP too: `current` lives there
        if (standIn == null) {
            BuildResult built = builder.build(layout.staging(id), layout.release(id), b.verified().manifest(),
                    store::path, r -> run.events().artifactDone(0));
            for (InstallResult r : built.artifacts()) {
                run.result(r.filename()).setInstallMs(r.installMillis());
            }
            run.report().addAllSharedPaths(built.sharedPaths());
        } else {
            standIn.install(node, b.verified().manifest());
            AppReadable.createDirectories(layout.staging(id));
        }
        halt.reach(HaltPoint.AFTER_BUILD);
        releases.writeManifest(layout.staging(id), b.verified().envelope());
        Durable.rename(layout.staging(id), layout.release(id));
        Durable.fsyncDirectory(layout.releases());
        halt.reach(HaltPoint.AFTER_RELEASE);
    }

    /** A failed deploy: the half-built release and the wheels unpacked early for it go. */
    void discard(VerifyStep.Baseline b) throws IOException {
        builder.discardPrepared();
        if (b != null) {
            Durable.deleteTree(b.layout().staging(b.verified().release()));
        }
    }
}

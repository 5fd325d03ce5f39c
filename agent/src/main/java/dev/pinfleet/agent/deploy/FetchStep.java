package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fetch.FetchException;
import dev.pinfleet.agent.fetch.FetchResult;
import dev.pinfleet.agent.fetch.Fetcher;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.Source;

/**
 * Step FETCH: brings the artifacts the plan needs into the store. Of those, the fetcher downloads the ones the store
 * lacks (the plan's {@code fetch} list, decided by the same test) and reports the others as from the store. Each
 * result goes into the deploy's report row and out as an event as it arrives.
 */
final class FetchStep {
    private final Fetcher fetcher;

    FetchStep(Fetcher fetcher) {
        this.fetcher = fetcher;
    }

    void run(PlanStep.DeployPlan plan, DeployRun run) throws FetchException, InterruptedException {
        run.events().bytesTotal(plan.fetchBytes());
        fetcher.fetchAll(plan.needed(), r -> arrived(r, run));
        if (plan.onDisk()) {
            for (Artifact a : run.baseline().verified().manifest().getArtifactsList()) {
                run.result(a.getFilename()).setSha256(a.getSha256()).setBytes(a.getSize()).setSource(Source.STORE);
            }
        }
    }

    /**
     * A simulated node's FETCH (see {@link StandIn}): nothing is downloaded; each artifact's row names the manifest's
     * sha256 and size, as on a node that fetched it, so the controller's consistency check sees a well-behaved node.
     */
    static void simulate(DeployRun run) {
        for (Artifact a : run.baseline().verified().manifest().getArtifactsList()) {
            run.result(a.getFilename()).setSha256(a.getSha256()).setBytes(a.getSize());
        }
    }

    /** On a fetch worker's thread, as each artifact is in the store. */
    private static void arrived(FetchResult r, DeployRun run) {
        ArtifactResult ar = r.toProto();
        synchronized (run) {
            run.result(r.filename()).mergeFrom(ar);
        }
        run.events().artifactDone(ar.getSource() == Source.MIRROR ? ar.getBytes() : 0);
        run.emit(DeployEvent.newBuilder().setArtifact(ar));
    }
}

package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fs.RootGuard;
import dev.pinfleet.agent.state.PendingChecks;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.PackageChange;
import dev.pinfleet.proto.v1.Phase;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Step PLAN: the one place that decides what a deploy of a verified manifest does on this node ({@link #decide}),
 * for the deploy itself and for the Plan RPC, and what the clean-up after its switch removes ({@link #removals},
 * the rule {@link Releases#doomed} that the garbage collection applies). Before a deploy acts, it also checks that
 * the app's directories take writes ({@link #checkWritable}).
 */
final class PlanStep {
    /**
     * What a deploy does.
     *
     * @param release the release id the manifest names
     * @param isCurrent `current` points at the release already: no switch
     * @param resumeChecks the release is current, but its hook and health check have not run yet (the agent
     *     stopped right after switching to it): the deploy runs them
     * @param onDisk the release is built already: it is switched to without fetching or installing
     * @param needed the artifacts the release is built from (all of the manifest's; none when onDisk)
     * @param fetch those of them missing from the store, each sha256 once: what is downloaded
     * @param fetchBytes the bytes of {@code fetch}
     * @param revertTo the release switched back to when the hook or health check fails; null: none (`current` is
     *     removed)
     */
    record DeployPlan(String release, boolean isCurrent, boolean resumeChecks, boolean onDisk, List<Artifact> needed,
            List<Artifact> fetch, long fetchBytes, String revertTo) {
        /** Nothing changes but the serial. */
        boolean unchanged() {
            return isCurrent && !resumeChecks;
        }

        /** The hook and health check run (after a switch, or resumed). */
        boolean runsChecks() {
            return !isCurrent || resumeChecks;
        }
    }

    private final ContentStore store;
    private final Releases releases;

    PlanStep(ContentStore store, Releases releases) {
        this.store = store;
        this.releases = releases;
    }

    /** What deploying {@code b}'s manifest does, given the store and the releases on disk now. */
    DeployPlan decide(VerifyStep.Baseline b) {
        String id = b.verified().release();
        Manifest m = b.verified().manifest();
        boolean onDisk = Files.isDirectory(b.layout().release(id), LinkOption.NOFOLLOW_LINKS);
        List<Artifact> needed = onDisk ? List.of() : m.getArtifactsList();
        List<Artifact> fetch = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        long bytes = 0;
        for (Artifact a : needed) {
            if (!store.contains(a.getSha256(), a.getSize()) && seen.add(a.getSha256())) {
                fetch.add(a);
                bytes += a.getSize();
            }
        }
        boolean isCurrent = id.equals(b.current());
        PendingChecks pending = b.state().getPending();
        boolean resume = isCurrent && b.state().hasPending() && pending.getRelease().equals(id);
        String revertTo = resume ? pending.getPreviousRelease() : b.current();
        return new DeployPlan(id, isCurrent, resume, onDisk, needed, List.copyOf(fetch), bytes,
                revertTo == null || revertTo.isEmpty() ? null : revertTo);
    }

    /**
     * The releases the garbage collection after a successful deploy of {@code plan} removes (none when the release
     * is current already): the rule the collection itself applies; for a release not built yet, its wheels' unpacked
     * sizes are estimated (see {@link Footprint}).
     */
    List<Releases.Doomed> removals(VerifyStep.Baseline b, DeployPlan plan) throws IOException {
        if (plan.unchanged()) {
            return List.of();
        }
        return releases.doomed(b.layout(), plan.release(), plan.revertTo(),
                plan.onDisk() ? null : b.verified().manifest());
    }

    /** Packages added, removed or changed from the current release to the planned one. */
    static List<PackageChange> changes(Manifest current, Manifest planned) {
        Map<String, String> before = new TreeMap<>();
        Map<String, String> after = new TreeMap<>();
        if (current != null) {
            current.getArtifactsList().forEach(a -> before.put(Names.normalizeProject(a.getName()), a.getVersion()));
        }
        planned.getArtifactsList().forEach(a -> after.put(Names.normalizeProject(a.getName()), a.getVersion()));
        Set<String> names = new TreeSet<>(before.keySet());
        names.addAll(after.keySet());
        List<PackageChange> out = new ArrayList<>();
        for (String n : names) {
            String from = before.getOrDefault(n, "");
            String to = after.getOrDefault(n, "");
            if (!from.equals(to)) {
                out.add(PackageChange.newBuilder().setName(n).setFromVersion(from).setToVersion(to).build());
            }
        }
        return out;
    }

    /**
     * Before anything is fetched: the app's directory (state and `current`) and its releases directory take writes.
     * A read-only mount or a full inode table is refused here, while the serial is not yet recorded.
     */
    static void checkWritable(VerifyStep.Baseline b) throws DeployFailure {
        AppLayout layout = b.layout();
        for (Path dir : List.of(layout.dir(), layout.releases())) {
            try {
                RootGuard.probeWritable(dir);
            } catch (IOException e) {
                String why = e instanceof FileSystemException fse && fse.getReason() != null
                        ? fse.getReason() : e.getClass().getSimpleName() + ": " + e.getMessage();
                throw new DeployFailure(Phase.PLAN, FailureReason.REASON_PLAN_LOCAL_IO, "cannot write to "
                        + (dir.equals(layout.dir()) ? "the state directory " : "the releases directory ") + dir
                        + " (" + why + "); nothing was fetched or switched, " + (b.current() == null
                        ? "there is no current release" : "release " + b.current() + " stays current"), e);
            }
        }
    }
}

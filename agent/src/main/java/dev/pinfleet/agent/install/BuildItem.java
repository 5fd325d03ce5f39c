package dev.pinfleet.agent.install;

import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One artifact of one release build, and what the build's steps learn and do about it, in step order: the cache
 * entry it holds ({@link #use}), its plan and the plan's shape, which of the plan's placements it writes
 * ({@link #owns}), how long linking it took and whether every file was hard-linked, and finally its result.
 * Link tasks of one wheel run on several threads; the tallies are safe for that.
 */
final class BuildItem {
    final Artifact artifact;
    /** WHEEL only: the build's hold on the wheel's cache entry. */
    WheelCache.Use use;
    /** WHEEL only: where each file of the wheel goes. */
    WheelPlan plan;
    PlanShape shape;
    /** WHEEL only: per placement position of {@link #plan}, whether this wheel writes it (another may). */
    boolean[] owns;
    /** ARCHIVE and FILE: release paths this artifact ships that an earlier one writes with identical bytes. */
    final Set<String> notOwned = new HashSet<>();
    private final AtomicLong linkNanos = new AtomicLong();
    private final AtomicBoolean allLinked = new AtomicBoolean(true);
    InstallResult result;

    BuildItem(Artifact artifact) {
        this.artifact = artifact;
    }

    boolean isWheel() {
        return artifact.getKind() == ArtifactKind.WHEEL;
    }

    String filename() {
        return artifact.getFilename();
    }

    /** Counts one batch of links: its time, and whether every file of it was hard-linked (not copied). */
    void linked(long nanos, boolean allHardLinks) {
        linkNanos.addAndGet(nanos);
        if (!allHardLinks) {
            allLinked.set(false);
        }
    }

    /** The wheel's result once its per-release files are written: unpack + link + finish time. */
    InstallResult wheelResult(long finishNanos) {
        long millis = (linkNanos.get() + finishNanos) / 1_000_000 + use.unpackMillis();
        return new InstallResult(filename(), millis, allLinked.get());
    }
}

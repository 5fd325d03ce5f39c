package dev.pinfleet.agent.install;

import dev.pinfleet.proto.v1.Artifact;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a build works out per wheel that is the same for every release holding it, kept per sha256: the plan, the
 * RECORD rows of its linked files and its shape. The same sha256 is the same wheel, so only the place of its cache
 * entry may differ between builds (unpacked, then moved into the cache). Thread-safe.
 */
final class PlanMemo {
    /** A plan and the RECORD rows of its linked files (null until first written). */
    private record KnownPlan(WheelPlan plan, byte[] linkRows) {}

    private final PythonInfo python;
    private final Set<String> skeletonDirs;
    private final Map<String, KnownPlan> plans = new ConcurrentHashMap<>();
    private final Map<String, PlanShape> shapes = new ConcurrentHashMap<>();

    PlanMemo(PythonInfo python, Set<String> skeletonDirs) {
        this.python = python;
        this.skeletonDirs = skeletonDirs;
    }

    /** The plan for a wheel, reused when the same artifact was planned before. */
    WheelPlan plan(Artifact a, WheelIndex index, Set<String> reserved) throws InstallException, IOException {
        KnownPlan known = plans.get(a.getSha256());
        if (known != null && known.plan().artifact().equals(a)) {
            if (known.plan().index().dir().equals(index.dir())) {
                return known.plan();
            }
            WheelPlan moved = new WheelPlan(a, index, known.plan().placements());
            plans.put(a.getSha256(), new KnownPlan(moved, known.linkRows()));
            return moved;
        }
        WheelPlan p = WheelPlan.of(a, index, python, reserved);
        plans.put(a.getSha256(), new KnownPlan(p, null));
        return p;
    }

    /** What the plan needs of the namespace. */
    PlanShape shape(WheelPlan p, Set<String> reserved) {
        return shapes.computeIfAbsent(p.artifact().getSha256(),
                k -> PlanShape.of(p.placements().keySet(), skeletonDirs, reserved));
    }

    /** The RECORD rows of the plan's linked files, written once per plan. */
    byte[] linkRows(WheelPlan p, WheelInstaller installer) {
        KnownPlan known = plans.get(p.artifact().getSha256());
        if (known != null && known.plan() == p && known.linkRows() != null) {
            return known.linkRows();
        }
        byte[] rows = installer.linkRows(p);
        if (known != null && known.plan() == p) {
            plans.put(p.artifact().getSha256(), new KnownPlan(p, rows));
        }
        return rows;
    }

    /** Forgets every wheel whose sha256 is not in {@code keep} (its cache entry is being pruned). */
    void retain(Set<String> keep) {
        plans.keySet().retainAll(keep);
        shapes.keySet().retainAll(keep);
    }
}

package dev.pinfleet.agent.install;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides which wheel writes each target of a release (the later one, as pip would overwrite), refusing a file that
 * another wheel (or the wheel itself, or the virtualenv) needs as a directory, and conflicts on a wheel's own
 * INSTALLER or RECORD. Wheels can only collide where they share a subtree root ({@link PlanShape}); only such
 * groups (namespace packages, scripts of the same name, ...) are compared target by target.
 */
final class PathOwnership {
    private PathOwnership() {}

    /** Sets {@link BuildItem#owns} of every wheel, in manifest order; {@code reserved}: the virtualenv's paths. */
    static void resolve(List<BuildItem> wheels, Set<String> reserved) throws InstallException {
        int[] parent = new int[wheels.size()];
        Map<String, Integer> rootOwner = new HashMap<>();
        for (int i = 0; i < wheels.size(); i++) {
            parent[i] = i;
            BuildItem w = wheels.get(i);
            if (w.shape.conflict() != null) {
                throw w.shape.conflictError(w.filename());
            }
            for (String root : w.shape.roots()) {
                Integer other = rootOwner.putIfAbsent(root, i);
                if (other != null) {
                    parent[find(parent, i)] = find(parent, other);
                }
            }
        }
        Map<Integer, List<BuildItem>> groups = new HashMap<>();
        for (int i = 0; i < wheels.size(); i++) {
            groups.computeIfAbsent(find(parent, i), k -> new ArrayList<>()).add(wheels.get(i));
        }
        for (List<BuildItem> group : groups.values()) {
            if (group.size() == 1) {
                BuildItem w = group.get(0);
                w.owns = new boolean[w.plan.placements().size()];
                Arrays.fill(w.owns, true);
            } else {
                resolveGroup(group, reserved);
            }
        }
    }

    private static int find(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }

    /** {@link #resolve} for wheels that share subtree roots, target by target, in manifest order. */
    private static void resolveGroup(List<BuildItem> group, Set<String> reserved) throws InstallException {
        Map<String, BuildItem> owner = new HashMap<>();
        for (BuildItem w : group) {
            for (WheelPlan.Placement p : w.plan.placements().values()) {
                BuildItem before = owner.put(p.target(), w);
                if (before != null && (isMetadata(p) || isMetadata(before.plan.placements().get(p.target())))) {
                    throw InstallException.conflict(w.filename(), "writes '" + p.target() + "', which belongs to "
                            + before.filename());
                }
            }
        }
        for (BuildItem w : group) {
            w.owns = new boolean[w.plan.placements().size()];
            int j = 0;
            for (String target : w.plan.placements().keySet()) {
                w.owns[j++] = owner.get(target) == w;
                for (int s = target.indexOf('/'); s > 0; s = target.indexOf('/', s + 1)) {
                    String dir = target.substring(0, s);
                    BuildItem fileOwner = owner.get(dir);
                    if (fileOwner != null || reserved.contains(dir)) {
                        throw InstallException.conflict(w.filename(), "needs '" + dir + "' as a directory, but it is a file of "
                                + (fileOwner != null ? fileOwner.filename() : "the virtualenv"));
                    }
                }
            }
        }
    }

    private static boolean isMetadata(WheelPlan.Placement p) {
        return p.kind() == WheelPlan.Kind.INSTALLER || p.kind() == WheelPlan.Kind.RECORD;
    }
}

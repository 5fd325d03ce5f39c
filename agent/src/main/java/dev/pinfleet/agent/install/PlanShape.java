package dev.pinfleet.agent.install;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What one wheel's plan needs of a release's namespace, worked out once per wheel (per sha256) and reused by every
 * release that holds it: the directories it needs below the virtualenv skeleton, the subtree roots it writes into
 * (the first path of each target that is not a skeleton directory: {@code lib/python3.11/site-packages/numpy}, or
 * the target itself for a top-level module file), and the first place where the wheel collides with itself or the
 * skeleton. Two wheels can only collide where they share a root, so a build compares only those.
 *
 * @param dirs directories to create, not including the skeleton's
 * @param roots subtree roots of the targets
 * @param conflict the first path the wheel needs as a directory although it is one of its own files or a file of
 *     the virtualenv, or a skeleton directory it writes as a file; null when there is none
 * @param conflictIsOwnFile whether {@code conflict} is one of the wheel's own files (else the virtualenv's)
 * @param writesSkeletonDir whether {@code conflict} is a skeleton directory the wheel would write as a file
 */
record PlanShape(List<String> dirs, Set<String> roots, String conflict, boolean conflictIsOwnFile,
        boolean writesSkeletonDir) {

    static PlanShape of(Set<String> targets, Set<String> skeletonDirs, Set<String> reserved) {
        Set<String> dirs = new HashSet<>();
        Set<String> roots = new HashSet<>();
        for (String target : targets) {
            for (int s = target.lastIndexOf('/'); s > 0; s = target.lastIndexOf('/', s - 1)) {
                if (!dirs.add(target.substring(0, s))) {
                    break;
                }
            }
            roots.add(root(target, skeletonDirs));
        }
        String conflict = null;
        boolean own = false;
        boolean skeleton = false;
        for (String target : targets) {
            if (skeletonDirs.contains(target)) {
                conflict = target;
                skeleton = true;
                break;
            }
        }
        if (conflict == null) {
            for (String d : dirs) {
                if (targets.contains(d) || reserved.contains(d)) {
                    conflict = d;
                    own = targets.contains(d);
                    break;
                }
            }
        }
        dirs.removeAll(skeletonDirs);
        return new PlanShape(List.copyOf(dirs), Set.copyOf(roots), conflict, own, skeleton);
    }

    /** The first prefix of {@code path} that is not a skeleton directory, or the path itself. */
    static String root(String path, Set<String> skeletonDirs) {
        for (int s = path.indexOf('/'); s > 0; s = path.indexOf('/', s + 1)) {
            String prefix = path.substring(0, s);
            if (!skeletonDirs.contains(prefix)) {
                return prefix;
            }
        }
        return path;
    }

    /** The message for {@link #conflict}, naming the wheel. */
    InstallException conflictError(String wheel) {
        if (writesSkeletonDir) {
            return InstallException.conflict(wheel, "writes '" + conflict + "' as a file, but the virtualenv needs it as a "
                    + "directory");
        }
        return InstallException.conflict(wheel, "needs '" + conflict + "' as a directory, but it is a file of "
                + (conflictIsOwnFile ? wheel : "the virtualenv"));
    }

    /** Directories of several shapes, each once. */
    static List<String> union(List<PlanShape> shapes) {
        Set<String> all = new HashSet<>();
        for (PlanShape s : shapes) {
            all.addAll(s.dirs);
        }
        return new ArrayList<>(all);
    }
}

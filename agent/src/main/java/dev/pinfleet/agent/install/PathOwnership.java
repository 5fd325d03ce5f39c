package dev.pinfleet.agent.install;

import dev.pinfleet.proto.v1.SharedPath;
import dev.pinfleet.wheel.PathOwners;
import dev.pinfleet.wheel.PathOwners.Identity;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Every path of a release is owned by exactly one artifact: decided for the whole manifest before anything is
 * linked. Two artifacts (wheels, or a wheel and an ARCHIVE or FILE) that would write the same file, or a file where
 * another (or the virtualenv) needs a directory, fail the build naming both and the path: a release holds exactly
 * the files its manifest names, whatever the order. The one exception is a file two artifacts ship byte for byte
 * the same (and with the same mode): the first in manifest order writes it, and it is reported as shared.
 * Directories may be shared (namespace packages split across wheels).
 *
 * <p>The rule itself (who owns a path, what counts as the same bytes) is proto's {@link PathOwners}, which freeze
 * applies too. Artifacts can only collide where they share a subtree root ({@link PlanShape}: a top-level package, a script
 * name, an install_path's first directory); only such groups are compared path by path, and only an ARCHIVE in
 * such a group is listed ahead of its extraction.
 */
final class PathOwnership {
    private PathOwnership() {}

    /** What a non-wheel artifact writes, release-relative: files (and symbolic links) with their content, directories. */
    record Claims(Map<String, Identity> files, Set<String> dirs) {}

    /** Lists what an ARCHIVE or FILE artifact writes; called only for one that shares a root with another. */
    interface Lister {
        Claims claims(BuildItem item) throws IOException, InstallException;
    }

    /**
     * Sets {@link BuildItem#owns} of every wheel and fills {@link BuildItem#notOwned} of the others.
     *
     * @param items every artifact, in manifest order, wheels planned
     * @param reserved the virtualenv's own paths
     * @param skeletonDirs the virtualenv's directories, to find subtree roots
     * @return the paths several artifacts install with identical bytes, by path
     * @throws InstallException on the first path two artifacts would write differently, naming both
     */
    static List<SharedPath> resolve(List<BuildItem> items, Set<String> reserved, Set<String> skeletonDirs, Lister lister)
            throws InstallException, IOException {
        int[] parent = new int[items.size()];
        Map<String, Integer> rootOwner = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            parent[i] = i;
            BuildItem item = items.get(i);
            if (item.isWheel() && item.shape.conflict() != null) {
                throw item.shape.conflictError(item.filename());
            }
            Set<String> roots = item.isWheel() ? item.shape.roots()
                    : Set.of(PlanShape.root(item.artifact.getInstallPath(), skeletonDirs));
            for (String root : roots) {
                Integer other = rootOwner.putIfAbsent(root, i);
                if (other != null) {
                    parent[find(parent, i)] = find(parent, other);
                }
            }
        }
        Map<Integer, List<BuildItem>> groups = new LinkedHashMap<>();
        for (int i = 0; i < items.size(); i++) {
            groups.computeIfAbsent(find(parent, i), k -> new ArrayList<>()).add(items.get(i));
        }
        Map<String, SharedPath.Builder> shared = new TreeMap<>();
        for (List<BuildItem> group : groups.values()) {
            if (group.size() == 1) {
                BuildItem only = group.get(0);
                if (only.isWheel()) {
                    only.owns = new boolean[only.plan.placements().size()];
                    Arrays.fill(only.owns, true);
                }
            } else {
                resolveGroup(group, reserved, lister, shared);
            }
        }
        return shared.values().stream().map(SharedPath.Builder::build).toList();
    }

    private static int find(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }

    /** {@link #resolve} for artifacts that share subtree roots, path by path, in manifest order. */
    private static void resolveGroup(List<BuildItem> group, Set<String> reserved, Lister lister,
            Map<String, SharedPath.Builder> shared) throws InstallException, IOException {
        PathOwners<BuildItem> owners = new PathOwners<>();
        Map<BuildItem, Set<String>> dirs = new LinkedHashMap<>();
        for (BuildItem item : group) {
            if (item.isWheel()) {
                for (WheelPlan.Placement p : item.plan.placements().values()) {
                    refuse(owners.file(p.target(), item, () -> wheelContent(item, p)));
                }
                dirs.put(item, new HashSet<>(item.shape.dirs()));
            } else {
                Claims c = lister.claims(item);
                for (Map.Entry<String, Identity> f : c.files().entrySet()) {
                    refuse(owners.file(f.getKey(), item, f::getValue));
                }
                dirs.put(item, c.dirs());
            }
        }
        for (Map.Entry<BuildItem, Set<String>> d : dirs.entrySet()) {
            for (String dir : d.getValue()) {
                PathOwners.Conflict<BuildItem> file = owners.directory(dir, d.getKey());
                if (file != null || reserved.contains(dir)) {
                    throw InstallException.conflict(d.getKey().filename(), "needs '" + dir + "' as a directory, but it is a "
                            + "file of " + (file != null ? file.first().filename() : "the virtualenv"));
                }
            }
        }
        for (Map.Entry<String, List<BuildItem>> sh : owners.shared().entrySet()) {
            SharedPath.Builder b = shared.computeIfAbsent(sh.getKey(), k -> SharedPath.newBuilder().setPath(k));
            for (BuildItem item : sh.getValue()) {
                b.addArtifacts(item.filename());
            }
            for (BuildItem item : sh.getValue().subList(1, sh.getValue().size())) {
                if (!item.isWheel()) {
                    item.notOwned.add(sh.getKey()); // the first one writes it
                }
            }
        }
        for (BuildItem item : group) {
            if (item.isWheel()) {
                item.owns = new boolean[item.plan.placements().size()];
                int j = 0;
                for (String target : item.plan.placements().keySet()) {
                    item.owns[j++] = owners.owner(target) == item;
                }
            }
        }
    }

    /** Refuses a path two artifacts would write differently, naming both. */
    private static void refuse(PathOwners.Conflict<BuildItem> c) throws InstallException {
        if (c != null) {
            throw InstallException.conflict(c.first().filename() + " and " + c.second().filename() + " both install '"
                    + c.path() + "' (" + c.how() + "); every path of a release comes from one artifact only");
        }
    }

    /** What a wheel's placement writes: the same for two wheels only when the release gets the same bytes. */
    private static Identity wheelContent(BuildItem w, WheelPlan.Placement p) {
        return switch (p.kind()) {
            case LINK -> new Identity("file", p.source().hash(), p.source().executable());
            case SCRIPT -> new Identity("script", p.source().hash(), true);
            case LAUNCHER -> new Identity("launcher", p.script().module() + ":" + p.script().attr(), true);
            case INSTALLER, RECORD -> new Identity("metadata", w.filename(), false);
        };
    }
}

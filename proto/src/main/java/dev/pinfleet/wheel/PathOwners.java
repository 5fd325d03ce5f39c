package dev.pinfleet.wheel;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The one rule for who writes which path of an environment, shared by the agent's install ({@code PathOwnership})
 * and by {@code freeze}: every path belongs to exactly one owner (an artifact, a pin). A second owner of a file is
 * allowed only when both write the same bytes with the same mode ({@link Identity}): the first keeps it, and the
 * path is recorded as shared. A file where another owner needs a directory is a conflict; directories themselves may
 * be shared (namespace packages split across wheels).
 *
 * <p>Claims are taken in order (manifest order, requirements order); conflicts are returned, not thrown, so the
 * agent can stop at the first one and freeze can report them all.
 *
 * @param <O> what owns a path
 */
public final class PathOwners<O> {

    /**
     * What a file holds, for the byte-identical exception.
     *
     * @param kind       what writes it: "file" (a wheel's or archive's bytes), "script" (a rewritten #!python
     *                   script), "launcher" (an entry point), "symlink", "metadata" (INSTALLER, RECORD: written per
     *                   wheel, never shared)
     * @param key        the bytes' hash (RECORD form, e.g. {@code sha256=…}), the entry point, the link target, or
     *                   for metadata the owner
     * @param executable whether it is written executable
     */
    public record Identity(String kind, String key, boolean executable) {
        /** Whether a second owner may write this path too when it writes the same identity. */
        public boolean shareable() {
            return !kind.equals("metadata");
        }
    }

    /**
     * Two owners that would both write {@code path}.
     *
     * @param path   the path, as claimed
     * @param first  the owner that claimed it first
     * @param second the owner that claimed it too
     * @param how    why it is not allowed, e.g. "different content" or "'foo' is a file of FIRST, SECOND needs it as
     *               a directory"
     */
    public record Conflict<O>(String path, O first, O second, String how) {}

    private record Claim<O>(O owner, Supplier<Identity> what) {}

    private final Map<String, Claim<O>> files = new HashMap<>();
    private final Map<String, List<O>> shared = new TreeMap<>();

    /**
     * Claims the file {@code path} for {@code owner}. {@code what} is asked only when another owner claimed the path
     * before (its identity may be costly to find).
     *
     * @return null when the path is now {@code owner}'s or is shared (identical bytes), else the conflict
     */
    public Conflict<O> file(String path, O owner, Supplier<Identity> what) {
        Claim<O> first = files.putIfAbsent(path, new Claim<>(owner, what));
        if (first == null) {
            return null;
        }
        Identity a = first.what().get();
        Identity b = what.get();
        if (!a.equals(b) || !a.shareable()) {
            String how = a.kind().equals(b.kind()) && a.key().equals(b.key()) && a.shareable()
                    ? "the same bytes with another mode" : "different content";
            return new Conflict<>(path, first.owner(), owner, how);
        }
        shared.computeIfAbsent(path, k -> new ArrayList<>(List.of(first.owner()))).add(owner);
        return null;
    }

    /**
     * Checks that {@code dir}, which {@code owner} needs as a directory, is no owner's file. Call once every file is
     * claimed, so the order of owners does not matter.
     *
     * @return null when it is not a file, else the conflict (first: the file's owner)
     */
    public Conflict<O> directory(String dir, O owner) {
        Claim<O> file = files.get(dir);
        if (file == null) {
            return null;
        }
        return new Conflict<>(dir, file.owner(), owner, "a file of one, a directory the other needs");
    }

    /** The owner that writes {@code path}: the first to claim it; null when nobody claimed it. */
    public O owner(String path) {
        Claim<O> c = files.get(path);
        return c == null ? null : c.owner();
    }

    /** The paths more than one owner writes with identical bytes, sorted, each with its owners in claim order. */
    public Map<String, List<O>> shared() {
        Map<String, List<O>> out = new LinkedHashMap<>();
        shared.forEach((k, v) -> out.put(k, List.copyOf(v)));
        return out;
    }

    /** Every parent directory of the '/'-separated {@code path}, nearest last (none for a top-level name). */
    public static List<String> parents(String path) {
        List<String> out = new ArrayList<>();
        for (int s = path.indexOf('/'); s > 0; s = path.indexOf('/', s + 1)) {
            out.add(path.substring(0, s));
        }
        return out;
    }
}

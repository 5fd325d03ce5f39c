package dev.pinfleet.agent.deploy;

import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The releases of every app on this node: the `current` link, garbage collection
 * (keep the newest N per app, then an optional size cap over store and cache) and freeing store and cache
 * entries no kept release references. The current and the previous release of an app are never deleted.
 * One rule ({@link #doomed}) decides what a collection removes, for the collection itself and for a plan.
 * Removed releases are renamed into {@code ROOT/trash/} and deleted in the background ({@link #emptyTrash}).
 */
public final class Releases implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Releases.class.getName());
    /** Inside each release: the signed manifest it was built from. */
    static final String MANIFEST_FILE = ".pinfleet/manifest.signed.json";

    private final Path root;
    private final int keep;
    private final long maxBytes;
    private final ContentStore store;
    private final ReleaseBuilder builder;
    private final Clock clock;
    private final Footprint footprint;
    private final Trash trash;
    /** The artifacts (by sha256) each complete release references; a release's content never changes. */
    private final Map<Path, Map<String, Artifact>> referencedBy = new ConcurrentHashMap<>();
    /** The last prune of store and cache by this process; null before the first. Used by the deploy's thread only. */
    private volatile Pruned lastPrune;

    /** Without a size cap. */
    public Releases(Path root, int keep, ContentStore store, ReleaseBuilder builder) {
        this(root, keep, 0, store, builder);
    }

    /**
     * @param root the agent root ({@code apps/}, {@code store/}, {@code cache/})
     * @param keep releases kept per app, newest first (the current and previous one always are)
     * @param maxBytes cap on the bytes of store plus cache after a deploy, 0 for none: beyond it the oldest
     *     releases of any app that are neither current nor previous go first
     */
    public Releases(Path root, int keep, long maxBytes, ContentStore store, ReleaseBuilder builder) {
        this(root, keep, maxBytes, store, builder, Clock.systemUTC());
    }

    /** As above, with the clock that stamps when a release was switched to (the order GC and listings use). */
    public Releases(Path root, int keep, long maxBytes, ContentStore store, ReleaseBuilder builder, Clock clock) {
        this(root, keep, maxBytes, store, builder, clock, HaltPoint.none());
    }

    /** As above, with the crash tests' {@link HaltPoint}. */
    public Releases(Path root, int keep, long maxBytes, ContentStore store, ReleaseBuilder builder, Clock clock,
            HaltPoint halt) {
        if (keep < 2) {
            throw new IllegalArgumentException("keep must be at least 2 (current and previous), got " + keep);
        }
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes must not be negative, got " + maxBytes);
        }
        this.root = root;
        this.keep = keep;
        this.maxBytes = maxBytes;
        this.store = store;
        this.builder = builder;
        this.clock = clock;
        this.footprint = new Footprint(root, store);
        this.trash = new Trash(root, halt);
    }

    public List<String> apps() throws IOException {
        Path apps = root.resolve("apps");
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(apps)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(apps)) {
            for (Path p : ds) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p.getFileName().toString());
                }
            }
        }
        out.sort(null);
        return out;
    }

    /** Release id `current` points at, or null when the app has none. */
    public String currentRelease(AppLayout layout) throws IOException {
        if (!Files.isSymbolicLink(layout.current())) {
            return null;
        }
        return Files.readSymbolicLink(layout.current()).getFileName().toString();
    }

    /**
     * Writes the signed manifest into a release being built and fsyncs it: it is written after the builder's one
     * flush of the tree, and a release directory must never come back from a power loss without it.
     */
    public void writeManifest(Path release, SignedManifest envelope) throws IOException {
        Path f = release.resolve(MANIFEST_FILE);
        Files.createDirectories(f.getParent());
        ByteBuffer buf = ByteBuffer.wrap((JsonFormat.printer().print(envelope) + "\n").getBytes(StandardCharsets.UTF_8));
        try (FileChannel ch = FileChannel.open(f, java.util.Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE), AppReadable.FILE)) { // the app may not edit it
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Durable.fsyncDirectory(f.getParent());
    }

    /** Swaps `current` to a complete release (relative link, so the app directory can move). */
    public void switchTo(AppLayout layout, String id) throws IOException {
        Path target = layout.release(id);
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("release " + target + " does not exist");
        }
        Files.setLastModifiedTime(target, FileTime.fromMillis(clock.millis()));
        Durable.swapSymlink(layout.current(), layout.dir().relativize(target));
    }

    /** Release ids on disk, most recently switched to first. */
    public List<String> list(AppLayout layout) throws IOException {
        List<Path> dirs = new ArrayList<>();
        if (Files.isDirectory(layout.releases())) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.releases())) {
                for (Path p : ds) {
                    if (!p.getFileName().toString().startsWith(".") && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        dirs.add(p);
                    }
                }
            }
        }
        dirs.sort(Comparator.comparing((Path p) -> {
            try {
                return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
            } catch (IOException e) {
                return FileTime.fromMillis(0);
            }
        }).reversed());
        List<String> out = new ArrayList<>();
        for (Path p : dirs) {
            out.add(p.getFileName().toString());
        }
        return out;
    }

    /** What one garbage collection did. */
    public record Collected(List<String> removedReleases, long storeBytesFreed, long cacheEntriesRemoved,
            long bytesAfter) {}

    /** A release a garbage collection removes. */
    public record Doomed(AppLayout layout, String id) {
        /** The app's name. */
        public String app() {
            return layout.dir().getFileName().toString();
        }

        /** APP/ID. */
        @Override
        public String toString() {
            return app() + "/" + id;
        }
    }

    /**
     * After {@code current} of {@code layout}'s app was switched to (from {@code previous}, may be null): removes
     * what {@link #doomed} says (renamed into the trash: call {@link #emptyTrash} once the deploy is answered),
     * then frees store and cache entries no remaining release of any app references. When an unreadable release
     * makes the referenced set unknown, nothing is freed.
     */
    public Collected collectGarbage(AppLayout layout, String current, String previous) throws IOException {
        long t0 = System.nanoTime();
        Collected c = collect(layout, current, previous);
        LOG.info("garbage collection after switching " + layout.dir().getFileName() + " to " + current + " took "
                + (System.nanoTime() - t0) / 1_000_000 + " ms: releases moved to the trash " + c.removedReleases()
                + ", store bytes freed " + c.storeBytesFreed() + ", cache entries removed " + c.cacheEntriesRemoved()
                + (c.bytesAfter() >= 0 ? ", store and cache now " + c.bytesAfter() + " bytes" : ""));
        return c;
    }

    private Collected collect(AppLayout layout, String current, String previous) throws IOException {
        List<String> removed = new ArrayList<>();
        Set<Path> touched = new LinkedHashSet<>();
        for (Doomed d : doomed(layout, current, previous, null)) {
            LOG.info("removing old release " + d.layout().release(d.id()));
            referencedBy.remove(d.layout().release(d.id()));
            trash.put(d.layout().release(d.id()));
            touched.add(d.layout().releases());
            removed.add(d.toString());
        }
        for (Path dir : touched) {
            trash.sync(dir);
        }
        long[] freed = new long[2];
        if (!free(freed)) {
            return new Collected(List.copyOf(removed), 0, 0, -1);
        }
        return new Collected(List.copyOf(removed), freed[0], freed[1], maxBytes > 0 ? bytes() : -1);
    }

    /**
     * The one rule of the garbage collection, for {@link #collectGarbage} and for a plan: which releases a collection
     * removes once {@code layout}'s app has switched to {@code current} (from {@code previous}, may be null).
     * First that app keeps its current and previous release and, up to {@code keep} in all, the most recently
     * switched-to others; then, while the bytes of store plus cache that the remaining releases reference exceed
     * the size cap, the least recently switched-to release of any app that is neither that app's current nor its
     * previous one goes. Keep-rule removals come first (newest first), then size-cap ones (oldest first).
     *
     * @param incoming the manifest of {@code current} when that release is not built yet (a plan), else null; what
     *     it needs that is not on the node yet is estimated as {@link Footprint} says
     */
    public List<Doomed> doomed(AppLayout layout, String current, String previous, Manifest incoming)
            throws IOException {
        List<String> ids = new ArrayList<>(list(layout));
        ids.remove(current);
        ids.add(0, current); // the release switched to is the most recent one
        Set<String> kept = new LinkedHashSet<>();
        kept.add(current);
        if (previous != null && ids.contains(previous)) {
            kept.add(previous);
        }
        for (String id : ids) {
            if (kept.size() >= keep) {
                break;
            }
            kept.add(id);
        }
        List<Doomed> out = new ArrayList<>();
        for (String id : ids) {
            if (!kept.contains(id)) {
                out.add(new Doomed(layout, id));
            }
        }
        if (maxBytes > 0) {
            capped(layout, new ArrayList<>(kept), previous, incoming, out);
        }
        return List.copyOf(out);
    }

    /** One release the size cap may remove, with what it references (null: unknown). */
    private record Held(AppLayout layout, String id, FileTime switched, boolean guarded, Map<String, Artifact> refs) {}

    /** The size-cap part of {@link #doomed}: appends to {@code out}. */
    private void capped(AppLayout layout, List<String> kept, String previous, Manifest incoming, List<Doomed> out)
            throws IOException {
        String current = kept.get(0);
        List<Held> held = new ArrayList<>();
        for (String id : kept) {
            boolean guarded = id.equals(current) || id.equals(previous);
            Map<String, Artifact> refs = id.equals(current) && incoming != null ? artifacts(incoming)
                    : referenced(layout.release(id));
            FileTime t = id.equals(current) ? FileTime.fromMillis(Long.MAX_VALUE) : switched(layout.release(id));
            held.add(new Held(layout, id, t, guarded, refs));
        }
        for (String app : apps()) {
            AppLayout l = AppLayout.of(root, app);
            if (l.dir().equals(layout.dir())) {
                continue;
            }
            String cur = currentRelease(l);
            String prev = null;
            List<String> ids = list(l);
            for (String id : ids) {
                if (!id.equals(cur)) {
                    prev = id; // the most recent one that is not current: that app's previous
                    break;
                }
            }
            for (String id : ids) {
                held.add(new Held(l, id, switched(l.release(id)), id.equals(cur) || id.equals(prev),
                        referenced(l.release(id))));
            }
        }
        for (Held h : held) {
            if (h.refs() == null) {
                LOG.warning("release " + h.layout().release(h.id()) + " has no readable manifest: the size cap"
                        + " store-max-bytes=" + maxBytes + " is not applied");
                return;
            }
        }
        Set<String> incomingShas = incoming == null ? Set.of() : artifacts(incoming).keySet();
        held.sort(Comparator.comparing(Held::switched));
        long bytes = bytesOf(held, incomingShas);
        while (bytes > maxBytes) {
            Held oldest = held.stream().filter(h -> !h.guarded()).findFirst().orElse(null);
            if (oldest == null) {
                LOG.warning("store and cache would hold " + bytes + " bytes, over store-max-bytes=" + maxBytes
                        + ", but every remaining release is an app's current or previous one");
                return;
            }
            held.remove(oldest);
            out.add(new Doomed(oldest.layout(), oldest.id()));
            bytes = bytesOf(held, incomingShas);
        }
    }

    private long bytesOf(List<Held> held, Set<String> incomingShas) throws IOException {
        List<Artifact> all = new ArrayList<>();
        for (Held h : held) {
            all.addAll(h.refs().values());
        }
        return footprint.of(all, incomingShas);
    }

    private static FileTime switched(Path release) {
        try {
            return Files.getLastModifiedTime(release, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    /** Store plus cache bytes, as the size cap counts them. */
    public long bytes() throws IOException {
        return store.totalBytes() + builder.cacheBytes();
    }

    /** Deletes what is in the trash on a background thread; returns at once. */
    public void emptyTrash() {
        trash.emptyInBackground();
    }

    /** Waits at most {@code timeout} until no trash deletion is pending; true when none is. */
    public boolean awaitTrashEmptied(Duration timeout) throws InterruptedException {
        return trash.awaitIdle(timeout);
    }

    /** Where removed releases wait for their deletion: {@code ROOT/trash}. */
    public Path trashDir() {
        return trash.dir();
    }

    /** Stops the background deletion of the trash (what is left goes at the next start). */
    @Override
    public void close() {
        trash.close();
    }

    /**
     * Prunes store and cache down to what the releases on disk reference; false when that is unknown. Skipped (the
     * two directory walks, which a rollback would otherwise spend most of its clean-up on) when it cannot remove
     * anything: an earlier prune of this process left store and cache within a referenced set that the releases now
     * on disk still reference in full, and neither has grown since ({@link ContentStore#commits},
     * {@link ReleaseBuilder#cacheUnpacks}).
     */
    private boolean free(long[] freed) throws IOException {
        Set<String> referenced = new HashSet<>();
        for (String app : apps()) {
            AppLayout l = AppLayout.of(root, app);
            for (String id : list(l)) {
                Map<String, Artifact> refs = referenced(l.release(id));
                if (refs == null) {
                    LOG.warning("release " + l.release(id) + " has no readable manifest: store and cache kept as they are");
                    return false;
                }
                referenced.addAll(refs.keySet());
            }
        }
        Pruned now = new Pruned(Set.copyOf(referenced), store.commits(), builder.cacheUnpacks());
        Pruned before = lastPrune;
        if (before != null && now.covers(before)) {
            return true;
        }
        freed[0] += store.prune(referenced);
        freed[1] += builder.pruneCache(referenced);
        lastPrune = now; // counts read before pruning: whatever arrived meanwhile makes the next one prune
        return true;
    }

    /** What a prune kept (every entry left is in {@code kept}) and the store's and cache's growth counts then. */
    private record Pruned(Set<String> kept, long storeCommits, long cacheUnpacks) {
        /** Pruning now would remove nothing that {@code earlier} left: no growth since, and all it kept still kept. */
        boolean covers(Pruned earlier) {
            return earlier.cacheUnpacks >= 0 && storeCommits == earlier.storeCommits
                    && cacheUnpacks == earlier.cacheUnpacks && kept.containsAll(earlier.kept);
        }
    }

    private Map<String, Artifact> referenced(Path release) {
        Map<String, Artifact> known = referencedBy.get(release);
        if (known != null) {
            return known;
        }
        Manifest m = manifestOf(release);
        if (m == null) {
            return null;
        }
        Map<String, Artifact> refs = artifacts(m);
        referencedBy.put(release, refs);
        return refs;
    }

    private static Map<String, Artifact> artifacts(Manifest m) {
        Map<String, Artifact> out = new java.util.HashMap<>();
        for (Artifact a : m.getArtifactsList()) {
            out.putIfAbsent(a.getSha256(), a);
        }
        return Map.copyOf(out);
    }

    /** The manifest a release was built from (written by this agent after verification), or null. */
    static Manifest manifestOf(Path release) {
        Path f = release.resolve(MANIFEST_FILE);
        try {
            SignedManifest.Builder b = SignedManifest.newBuilder();
            JsonFormat.parser().merge(Files.readString(f, StandardCharsets.UTF_8), b);
            return ManifestCodec.parse(b.getPayload().toByteArray());
        } catch (IOException | ManifestException e) {
            LOG.warning("release " + release + ": cannot read its manifest: " + e.getMessage());
            return null;
        }
    }
}

package dev.pinfleet.agent.deploy;

import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fs.Durable;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * The releases of every app on this node: the `current` link, recovery after a crash, garbage collection
 * (keep the newest N per app, then an optional size cap over store and cache) and freeing store and cache
 * entries no kept release references. The current and the previous release of an app are never deleted.
 */
public final class Releases {
    private static final Logger LOG = Logger.getLogger(Releases.class.getName());
    /** Inside each release: the signed manifest it was built from. */
    static final String MANIFEST_FILE = ".pinfleet/manifest.signed.json";

    private final Path root;
    private final int keep;
    private final long maxBytes;
    private final ContentStore store;
    private final ReleaseBuilder builder;
    private final Clock clock;
    /** The sha256 values each complete release references; a release's content never changes. */
    private final Map<Path, Set<String>> referencedBy = new ConcurrentHashMap<>();

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

    public void writeManifest(Path release, SignedManifest envelope) throws IOException {
        Path f = release.resolve(MANIFEST_FILE);
        Files.createDirectories(f.getParent());
        Files.writeString(f, JsonFormat.printer().print(envelope) + "\n", StandardCharsets.UTF_8);
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

    /**
     * At start: removes half-built releases (a crash mid-install) and interrupted unpacks in the cache, and
     * makes each app's state agree with `current`, which only ever points at a complete release.
     */
    public void recover() throws IOException {
        builder.recover();
        for (String app : apps()) {
            AppLayout layout = AppLayout.of(root, app);
            if (Files.isDirectory(layout.releases())) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.releases(), ".staging-*")) {
                    for (Path p : ds) {
                        LOG.info("removing half-built release " + p);
                        Durable.deleteTree(p);
                    }
                }
            }
            String cur = currentRelease(layout);
            AppStatus s = StateStore.read(layout, app);
            if (cur != null && !cur.equals(s.getRelease())) {
                Manifest m = manifestOf(layout.release(cur));
                StateStore.write(layout, s.toBuilder().setRelease(cur)
                        .setManifestDigest(m == null ? "" : ManifestCodec.contentDigest(m)).build());
                LOG.info("app " + app + ": state said release " + s.getRelease() + ", current is " + cur + "; state updated");
            }
        }
    }

    /** What one garbage collection did. */
    public record Collected(List<String> removedReleases, long storeBytesFreed, long cacheEntriesRemoved,
            long bytesAfter) {}

    /**
     * After {@code current} of {@code layout}'s app was switched to (from {@code previous}, may be null): keeps
     * that app's current and previous release and, up to {@code keep} in all, the most recently switched-to
     * others, deleting the rest; frees store and cache entries no remaining release of
     * any app references; then, while store plus cache exceed the size cap, deletes the oldest release of any app
     * that is neither that app's current nor its previous one, freeing again. When an unreadable release makes
     * the referenced set unknown, nothing is freed.
     */
    public Collected collectGarbage(AppLayout layout, String current, String previous) throws IOException {
        long t0 = System.nanoTime();
        Collected c = collect(layout, current, previous);
        LOG.info("garbage collection after switching " + layout.dir().getFileName() + " to " + current + " took "
                + (System.nanoTime() - t0) / 1_000_000 + " ms: releases removed " + c.removedReleases()
                + ", store bytes freed " + c.storeBytesFreed() + ", cache entries removed " + c.cacheEntriesRemoved()
                + (c.bytesAfter() >= 0 ? ", store and cache now " + c.bytesAfter() + " bytes" : ""));
        return c;
    }

    private Collected collect(AppLayout layout, String current, String previous) throws IOException {
        List<String> removed = new ArrayList<>();
        List<String> ids = list(layout);
        Set<String> kept = new HashSet<>();
        for (String id : ids) {
            if (id.equals(current) || id.equals(previous)) {
                kept.add(id);
            }
        }
        for (String id : ids) {
            if (kept.size() >= keep) {
                break;
            }
            kept.add(id);
        }
        for (String id : ids) {
            if (!kept.contains(id)) {
                delete(layout, id);
                removed.add(layout.dir().getFileName() + "/" + id);
            }
        }
        long[] freed = new long[2];
        if (!free(freed)) {
            return new Collected(removed, 0, 0, -1);
        }
        long bytes = maxBytes > 0 ? bytes() : -1;
        while (maxBytes > 0 && bytes > maxBytes) {
            Candidate oldest = oldestUnprotected(layout, current, previous);
            if (oldest == null) {
                LOG.warning("store and cache hold " + bytes + " bytes, over store-max-bytes=" + maxBytes
                        + ", but every remaining release is an app's current or previous one");
                break;
            }
            LOG.info("store and cache hold " + bytes + " bytes, over store-max-bytes=" + maxBytes
                    + ": removing the oldest release " + oldest.layout.release(oldest.id));
            delete(oldest.layout, oldest.id);
            removed.add(oldest.layout.dir().getFileName() + "/" + oldest.id);
            if (!free(freed)) {
                break;
            }
            bytes = bytes();
        }
        return new Collected(List.copyOf(removed), freed[0], freed[1], bytes);
    }

    /** Store plus cache bytes, as the size cap counts them. */
    public long bytes() throws IOException {
        return store.totalBytes() + builder.cacheBytes();
    }

    private record Candidate(AppLayout layout, String id, FileTime switched) {}

    /** The least recently switched-to release of any app that is not protected. */
    private Candidate oldestUnprotected(AppLayout deploying, String current, String previous) throws IOException {
        Candidate best = null;
        for (String app : apps()) {
            AppLayout l = AppLayout.of(root, app);
            List<String> ids = list(l);
            Set<String> guard = new HashSet<>();
            String cur = currentRelease(l);
            if (cur != null) {
                guard.add(cur);
            }
            if (l.dir().equals(deploying.dir())) {
                guard.add(current);
                if (previous != null) {
                    guard.add(previous);
                }
            } else {
                for (String id : ids) {
                    if (!id.equals(cur)) {
                        guard.add(id); // the most recent one that is not current: that app's previous
                        break;
                    }
                }
            }
            for (String id : ids) {
                if (guard.contains(id)) {
                    continue;
                }
                FileTime t = Files.getLastModifiedTime(l.release(id), LinkOption.NOFOLLOW_LINKS);
                if (best == null || t.compareTo(best.switched) < 0) {
                    best = new Candidate(l, id, t);
                }
            }
        }
        return best;
    }

    private void delete(AppLayout layout, String id) throws IOException {
        LOG.info("removing old release " + layout.release(id));
        referencedBy.remove(layout.release(id));
        Durable.deleteTree(layout.release(id));
    }

    /** Prunes store and cache down to what the releases on disk reference; false when that is unknown. */
    private boolean free(long[] freed) throws IOException {
        Set<String> referenced = new HashSet<>();
        for (String app : apps()) {
            AppLayout l = AppLayout.of(root, app);
            for (String id : list(l)) {
                Set<String> shas = referenced(l.release(id));
                if (shas == null) {
                    LOG.warning("release " + l.release(id) + " has no readable manifest: store and cache kept as they are");
                    return false;
                }
                referenced.addAll(shas);
            }
        }
        freed[0] += store.prune(referenced);
        freed[1] += builder.pruneCache(referenced);
        return true;
    }

    private Set<String> referenced(Path release) {
        Set<String> known = referencedBy.get(release);
        if (known != null) {
            return known;
        }
        Manifest m = manifestOf(release);
        if (m == null) {
            return null;
        }
        Set<String> shas = new HashSet<>();
        for (Artifact a : m.getArtifactsList()) {
            shas.add(a.getSha256());
        }
        referencedBy.put(release, Set.copyOf(shas));
        return shas;
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

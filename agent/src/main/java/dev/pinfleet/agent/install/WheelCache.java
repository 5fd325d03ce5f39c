package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.archive.ZipArchive;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * Wheels unpacked once per sha256 into {@code root/wheels/<ab>/<sha256>/} ({@code files/} plus an
 * {@code index}). A wheel is unpacked in the background into {@code root/wheels/.tmp/} (several threads share
 * a large one) and stays there, <em>pending</em>, until a release that uses it has been flushed to disk; only
 * then is it renamed into place. So an entry under its sha256 name is always complete and durable, and a crash
 * leaves at most a {@code .tmp} leftover ({@link #recover}). Every check that depends only on the wheel's
 * bytes runs here, once: entry names, zip structure, RECORD hashes, WHEEL and METADATA.
 *
 * <p>Thread-safe.
 */
final class WheelCache {
    private static final Logger LOG = Logger.getLogger(WheelCache.class.getName());

    /** Where a wheel's bytes come from, resolved only when it must be unpacked. */
    interface Source {
        Path file() throws IOException, InstallException;
    }

    /** One build's hold on an entry: the entry cannot be published or pruned while a build holds it. */
    static final class Use {
        final String sha256;
        final CompletableFuture<WheelIndex> index;
        final Pending pending;

        Use(String sha256, CompletableFuture<WheelIndex> index, Pending pending) {
            this.sha256 = sha256;
            this.index = index;
            this.pending = pending;
        }

        /** Milliseconds spent unpacking for this use (0 when the entry was cached before). */
        long unpackMillis() {
            return pending == null ? 0 : pending.unpackMillis;
        }

        /** Waits for the entry; rethrows why it could not be unpacked. */
        WheelIndex await() throws IOException, InstallException, InterruptedException {
            try {
                return index.get();
            } catch (ExecutionException e) {
                Throwable c = e.getCause();
                if (c instanceof InstallException ie) {
                    throw new InstallException(ie.getMessage(), ie);
                }
                if (c instanceof IOException io) {
                    throw new IOException(io.getMessage(), io);
                }
                if (c instanceof RuntimeException re) {
                    throw re;
                }
                if (c instanceof Error err) {
                    throw err;
                }
                throw new IOException(c);
            }
        }
    }

    /** A wheel being unpacked, or unpacked but not yet durable, under {@code .tmp}. Guarded by the cache. */
    static final class Pending {
        final String sha256;
        final Path work;
        final CompletableFuture<WheelIndex> index = new CompletableFuture<>();
        int users;
        boolean synced;
        /** Dropped by a failed build or deploy: its work directory goes as soon as the unpack has ended. */
        boolean discarded;
        final AtomicBoolean removed = new AtomicBoolean();
        volatile long unpackMillis;

        Pending(String sha256, Path work) {
            this.sha256 = sha256;
            this.work = work;
        }
    }

    private final Path wheels;
    private final Path tmp;
    private final Executor pool;
    private final Flusher flusher;
    private final ThreadLocal<ZipArchive.Scratch> scratch = ThreadLocal.withInitial(ZipArchive.Scratch::new);
    private final Map<String, Pending> pending = new HashMap<>();
    /** Indexes of published entries, remembered once read. */
    private final Map<String, WheelIndex> indexes = new java.util.concurrent.ConcurrentHashMap<>();
    /** Unpacked bytes per published entry, remembered once read. */
    private final Map<String, Long> sizes = new java.util.concurrent.ConcurrentHashMap<>();
    /** Unpacks started since this cache was opened; see {@link #unpacks}. */
    private final java.util.concurrent.atomic.AtomicLong unpacks = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param pool runs the unpacking; its threads should not wait on each other (none of these tasks does)
     * @param flusher told how much each unpack wrote, to start write-back early
     */
    WheelCache(Path cacheRoot, Executor pool, Flusher flusher) {
        this.wheels = cacheRoot.resolve("wheels");
        this.tmp = wheels.resolve(".tmp");
        this.pool = pool;
        this.flusher = flusher;
    }

    /** The cache entry of a sha256. */
    Path entryDir(String sha256) {
        return wheels.resolve(sha256.substring(0, 2)).resolve(sha256);
    }

    /**
     * The cached (complete, durable) index, or null when the wheel is not in the cache. Indexes once read are
     * remembered (an entry never changes); the entry's directory is still checked to exist.
     */
    WheelIndex lookup(String sha256) throws IOException {
        Path dir = entryDir(sha256);
        WheelIndex known = indexes.get(sha256);
        if (known != null && Files.isDirectory(dir)) {
            return known;
        }
        WheelIndex read = WheelIndex.read(dir);
        if (read == null) {
            indexes.remove(sha256);
        } else {
            indexes.put(sha256, read);
        }
        return read;
    }

    /**
     * Takes hold of the entry for {@code sha256} for a build: the cached one, the one being unpacked, or a new
     * background unpack of {@code source}. Every use must be given back with {@link #release}.
     */
    Use obtain(String sha256, Source source, String filename) throws IOException {
        synchronized (this) {
            Pending p = pending.get(sha256);
            if (p != null) {
                p.users++;
                return new Use(sha256, p.index, p);
            }
        }
        WheelIndex cached = lookup(sha256);
        if (cached != null) {
            return new Use(sha256, CompletableFuture.completedFuture(cached), null);
        }
        Pending p = start(sha256, source, filename, true);
        return new Use(sha256, p.index, p);
    }

    /**
     * Starts unpacking a wheel that just arrived in the store, unless it is cached or already being unpacked,
     * so that a build finds it ready. Failures are kept for the build that will use it.
     */
    void prepare(String sha256, Source source, String filename) throws IOException {
        synchronized (this) {
            if (pending.containsKey(sha256)) {
                return;
            }
        }
        if (Files.exists(entryDir(sha256).resolve("index"))) {
            return;
        }
        start(sha256, source, filename, false);
    }

    /**
     * Gives back a build's holds. With {@code synced} (the build flushed the file system after every use was
     * complete), the pending entries are durable and those no other build holds are renamed into place.
     */
    void release(List<Use> uses, boolean synced) {
        List<Pending> ready = new ArrayList<>();
        List<Pending> dropped = new ArrayList<>();
        synchronized (this) {
            for (Use u : uses) {
                Pending p = u.pending;
                if (p == null) {
                    continue;
                }
                p.users--;
                if (synced && p.index.isDone() && !p.index.isCompletedExceptionally()) {
                    p.synced = true;
                }
                if (p.users == 0 && p.synced && pending.get(p.sha256) == p) {
                    pending.remove(p.sha256);
                    ready.add(p);
                }
            }
            if (!synced) {
                discardIdleLocked(dropped);
            }
        }
        for (Pending p : ready) {
            publish(p);
        }
        dropped.forEach(this::dropWork);
    }

    /**
     * Drops every unpack no build holds and no flushed release made durable (those {@link #prepare} started for a
     * deploy that then failed, or a failed build's): their directories under {@code .tmp} are removed now, or when
     * their unpack ends. Nothing half-done stays behind a failure; a retry unpacks again from the store.
     */
    void discardIdle() {
        List<Pending> dropped = new ArrayList<>();
        synchronized (this) {
            discardIdleLocked(dropped);
        }
        dropped.forEach(this::dropWork);
    }

    private void discardIdleLocked(List<Pending> dropped) {
        for (var it = pending.values().iterator(); it.hasNext();) {
            Pending p = it.next();
            if (p.users == 0 && !p.synced) {
                it.remove();
                p.discarded = true;
                if (p.index.isDone()) {
                    dropped.add(p);
                }
            }
        }
    }

    private synchronized boolean isDiscarded(Pending p) {
        return p.discarded;
    }

    private void dropWork(Pending p) {
        if (p.removed.compareAndSet(false, true)) {
            FileTrees.deleteQuietly(p.work);
        }
    }

    /**
     * Deletes every entry whose sha256 is not in {@code keep}, finished pending entries not kept, and unpack
     * leftovers no pending entry owns; returns the entries removed. Entries a build holds are left alone.
     */
    long prune(Set<String> keep) throws IOException {
        long removed = 0;
        List<Path> doomed = new ArrayList<>();
        synchronized (this) { // an unpack started later gets a new directory, not in this listing
            Set<Path> live = new java.util.HashSet<>();
            for (var it = pending.values().iterator(); it.hasNext();) {
                Pending p = it.next();
                if (!keep.contains(p.sha256) && p.users == 0 && p.index.isDone()) {
                    it.remove();
                } else {
                    live.add(p.work);
                }
            }
            if (Files.isDirectory(tmp)) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmp)) {
                    for (Path p : ds) {
                        if (!live.contains(p)) {
                            doomed.add(p);
                        }
                    }
                }
            }
        }
        for (Path d : doomed) {
            FileTrees.delete(d);
            removed++;
        }
        if (!Files.isDirectory(wheels)) {
            return removed;
        }
        for (Path entry : entries()) {
            if (!keep.contains(entry.getFileName().toString())) {
                sizes.remove(entry.getFileName().toString());
                indexes.remove(entry.getFileName().toString());
                FileTrees.delete(entry);
                removed++;
            }
        }
        return removed;
    }

    /**
     * Bytes of the unpacked files of the entries in place (pending ones not counted), from their indexes: each
     * entry's size is read once, then remembered (an entry never changes).
     */
    /**
     * How many unpacks were started since this cache was opened, or -1 while one is pending (not yet in place,
     * not yet dropped: a prune may leave it behind). Every entry and {@code .tmp} directory comes from an unpack, so
     * a prune at count N (not -1) leaves nothing for another prune with the same keep set while the count stays N.
     */
    synchronized long unpacks() {
        return pending.isEmpty() ? unpacks.get() : -1;
    }

    long totalBytes() throws IOException {
        long sum = 0;
        if (!Files.isDirectory(wheels)) {
            return 0;
        }
        for (Path entry : entries()) {
            String sha = entry.getFileName().toString();
            Long size = sizes.get(sha);
            if (size == null) {
                WheelIndex index = WheelIndex.read(entry);
                if (index == null) {
                    continue;
                }
                size = index.files().stream().mapToLong(WheelIndex.FileEntry::size).sum();
                sizes.put(sha, size);
            }
            sum += size;
        }
        return sum;
    }

    /** The entries in place, {@code wheels/<prefix>/<sha256>}, in no particular order. */
    private List<Path> entries() throws IOException {
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> prefixes = Files.newDirectoryStream(wheels)) {
            for (Path prefix : prefixes) {
                if (prefix.equals(tmp) || !Files.isDirectory(prefix)) {
                    continue;
                }
                try (DirectoryStream<Path> shas = Files.newDirectoryStream(prefix)) {
                    shas.forEach(entries::add);
                }
            }
        }
        return entries;
    }

    /** Removes what an interrupted unpack left in {@code .tmp}; call before any build, with none pending. */
    void recover() throws IOException {
        synchronized (this) {
            if (!pending.isEmpty()) {
                throw new IllegalStateException("recover() with " + pending.size() + " pending unpacks");
            }
        }
        if (Files.isDirectory(tmp)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(tmp)) {
                for (Path p : ds) {
                    LOG.info("removing an interrupted unpack " + p);
                    FileTrees.delete(p);
                }
            }
        }
    }

    private Pending start(String sha256, Source source, String filename, boolean withUser) throws IOException {
        Pending p;
        synchronized (this) {
            Pending other = pending.get(sha256);
            if (other != null) {
                if (withUser) {
                    other.users++;
                }
                return other;
            }
            unpacks.incrementAndGet();
            AppReadable.createDirectories(tmp);
            p = new Pending(sha256, tmp.resolve(sha256 + "-" + UUID.randomUUID()));
            if (withUser) {
                p.users++;
            }
            pending.put(sha256, p);
        }
        Pending job = p;
        job.index.whenComplete((r, e) -> {
            if (e != null) {
                forget(job);
            } else if (isDiscarded(job)) {
                dropWork(job);
            }
        });
        try {
            pool.execute(() -> open(job, source, filename));
        } catch (RejectedExecutionException e) {
            job.index.completeExceptionally(new IOException("the install workers are stopped", e));
        }
        return p;
    }

    /** First step of an unpack: metadata and directories; then the chunks go to the pool. */
    private void open(Pending p, Source source, String filename) {
        long t0 = System.nanoTime();
        WheelUnpack u;
        try {
            AppReadable.createDirectory(p.work);
            u = WheelUnpack.open(source.file(), filename, p.work, scratch.get());
        } catch (IOException | InstallException | RuntimeException | Error e) {
            FileTrees.deleteQuietly(p.work);
            p.index.completeExceptionally(e);
            return;
        }
        List<WheelUnpack.Chunk> chunks = u.chunks();
        if (chunks.isEmpty()) {
            complete(p, u, t0, null);
            return;
        }
        AtomicInteger left = new AtomicInteger(chunks.size());
        AtomicBoolean failed = new AtomicBoolean();
        Throwable[] failure = new Throwable[1];
        for (WheelUnpack.Chunk c : chunks) {
            Runnable task = () -> {
                try {
                    if (!failed.get()) {
                        c.extract(scratch.get());
                    }
                } catch (IOException | InstallException | RuntimeException | Error e) {
                    if (failed.compareAndSet(false, true)) {
                        failure[0] = e; // the other chunks skip their work; the last one reports, after cleaning up
                    }
                } finally {
                    if (left.decrementAndGet() == 0) {
                        complete(p, u, t0, failed.get() ? failure[0] : null);
                    }
                }
            };
            try {
                pool.execute(task);
            } catch (RejectedExecutionException e) {
                if (failed.compareAndSet(false, true)) {
                    failure[0] = new IOException("the install workers are stopped", e);
                }
                if (left.decrementAndGet() == 0) {
                    complete(p, u, t0, failure[0]);
                }
            }
        }
    }

    /** Ends an unpack: the index written, or (on failure) the work directory removed before the failure is told. */
    private void complete(Pending p, WheelUnpack u, long t0, Throwable failure) {
        Throwable why = failure;
        try {
            u.close();
            if (why == null) {
                WheelIndex index = u.finish();
                p.unpackMillis = (System.nanoTime() - t0) / 1_000_000;
                flusher.written(u.unpackedBytes());
                p.index.complete(index);
                return;
            }
        } catch (IOException | RuntimeException e) {
            why = why == null ? e : why;
        }
        FileTrees.deleteQuietly(p.work);
        p.index.completeExceptionally(why);
    }

    private synchronized void forget(Pending p) {
        if (pending.get(p.sha256) == p) {
            pending.remove(p.sha256);
        }
    }

    /** Renames a durable pending entry into place (or drops it when another copy got there first). */
    private void publish(Pending p) {
        Path target = entryDir(p.sha256);
        try {
            AppReadable.createDirectories(target.getParent());
            if (Files.exists(target.resolve("index"))) {
                FileTrees.delete(p.work);
                return;
            }
            FileTrees.delete(target); // a partial entry of an older format or a crashed copy
            Files.move(p.work, target, StandardCopyOption.ATOMIC_MOVE);
            WheelIndex i = p.index.join();
            indexes.put(p.sha256, new WheelIndex(target, i.distInfo(), i.name(), i.version(), i.purelib(), i.files()));
        } catch (NoSuchFileException e) {
            LOG.warning("cache entry " + p.work + " vanished before it was published: " + e.getMessage());
        } catch (IOException e) {
            LOG.warning("cannot move unpacked wheel " + p.work + " into the cache at " + target + ": " + e.getMessage()
                    + "; it will be unpacked again when needed");
            FileTrees.deleteQuietly(p.work);
        }
    }
}

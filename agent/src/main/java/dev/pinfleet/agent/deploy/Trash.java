package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.install.FileTrees;
import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.fs.Durable;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Releases the garbage collection gave up, out of the deploy's way: {@link #put} renames a release directory into
 * {@code ROOT/trash/} (one atomic rename on the same file system, however many files it holds), and
 * {@link #emptyInBackground} deletes the trash on a background thread, after the deploy's report is sent and at
 * start for what a crash left there. A half-deleted entry is simply deleted again later: nothing reads the trash.
 */
final class Trash implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Trash.class.getName());

    private final Path dir;
    private final HaltPoint halt;
    private final Object lock = new Object();
    /** A pass is submitted and has not started yet; guarded by lock. */
    private boolean queued;
    /** Passes submitted and not finished; guarded by lock. */
    private int passes;
    private final ExecutorService deleter = Executors.newSingleThreadExecutor(new DaemonThreads("release-trash"));

    Trash(Path root, HaltPoint halt) {
        this.dir = root.resolve("trash");
        this.halt = halt;
    }

    Path dir() {
        return dir;
    }

    /**
     * Moves {@code release} into the trash with one rename. Where the trash is on another file system (an
     * operator mounted {@code releases/} separately) the release is deleted in place instead.
     */
    void put(Path release) throws IOException {
        Files.createDirectories(dir);
        Path to = dir.resolve(release.getParent().getParent().getFileName() + "." + release.getFileName() + "."
                + UUID.randomUUID());
        try {
            Files.move(release, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            LOG.warning("trash " + dir + " is on another file system than " + release + ": deleting it in place");
            Durable.deleteTree(release);
        }
    }

    /** Makes the renames of {@link #put} durable: fsyncs the trash and the release directories they left. */
    void sync(Path releasesDir) throws IOException {
        Durable.fsyncDirectory(releasesDir);
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Durable.fsyncDirectory(dir);
        }
    }

    /** Starts deleting whatever is in the trash, unless it is empty or a pass is already pending; returns at once. */
    void emptyInBackground() {
        synchronized (lock) {
            if (queued || !holdsEntries()) { // nothing to delete: no pass, and no deleter thread is started for it
                return;
            }
            queued = true;
            passes++;
        }
        try {
            deleter.execute(this::emptyNow);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            synchronized (lock) {
                queued = false;
                passes--;
                lock.notifyAll();
            }
        }
    }

    /**
     * Waits at most {@code timeout} until the trash is empty and no deletion pass is pending (a pass may be started
     * only once the deploy's report is sent, after the caller's wait began); true when it is.
     */
    boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (passes > 0 || holdsEntries()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                // a pass ending notifies; one not started yet is seen at the next look
                TimeUnit.NANOSECONDS.timedWait(lock, Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
            }
            return true;
        }
    }

    private boolean holdsEntries() {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            return ds.iterator().hasNext();
        } catch (IOException e) {
            return false; // no trash directory: nothing in it
        }
    }

    private void emptyNow() {
        try {
            synchronized (lock) {
                queued = false; // a put after this point schedules another pass
            }
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                return;
            }
            long t0 = System.nanoTime();
            int entries = 0;
            long[] files = new long[1];
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    delete(p, files);
                    entries++;
                    if (Thread.currentThread().isInterrupted()) {
                        return;
                    }
                }
            }
            if (entries > 0) {
                LOG.info("deleted " + entries + " trashed release(s), " + files[0] + " files, in "
                        + (System.nanoTime() - t0) / 1_000_000 + " ms");
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "could not empty the trash " + dir + " (tried again after the next deploy and at"
                    + " start)", e);
        } finally {
            synchronized (lock) {
                passes--;
                lock.notifyAll();
            }
        }
    }

    /** Deletes a tree without following links, stopping between files once interrupted (at shutdown). */
    private void delete(Path p, long[] files) throws IOException {
        FileTrees.delete(p, f -> {
            if (files[0]++ == 0) {
                halt.reach(HaltPoint.DURING_TRASH);
            }
            return !Thread.currentThread().isInterrupted();
        });
    }

    /** Stops the background deletion (what is left is deleted at the next start). */
    @Override
    public void close() {
        int dropped = deleter.shutdownNow().size();
        synchronized (lock) {
            passes -= dropped;
            queued = false;
            lock.notifyAll();
        }
    }
}

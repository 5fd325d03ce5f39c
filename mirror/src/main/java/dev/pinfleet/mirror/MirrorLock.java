package dev.pinfleet.mirror;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The writer lock of one mirror directory: held while publishing and while rebuilding the index, so two
 * writers never interleave (an index rebuilt from a stale scan would hide a just-published file). It is
 * an OS file lock on {@code DIR/.pinfleet.lock} (excludes other processes) plus a per-directory
 * {@link ReentrantLock} (excludes other threads of this JVM, which OS locks do not). Reentrant: a thread
 * holding it may acquire it again, e.g. a batch publish that rebuilds the index before releasing.
 *
 * <p>The lock registry is static on purpose: OS file locks belong to the process, so the in-JVM half must
 * be process-wide too.
 */
public final class MirrorLock implements AutoCloseable {
    /** The lock file's name inside the mirror directory. */
    public static final String FILE_NAME = ".pinfleet.lock";

    private static final ConcurrentHashMap<Path, Holder> HOLDERS = new ConcurrentHashMap<>();

    private static final class Holder {
        final ReentrantLock lock = new ReentrantLock();
        FileChannel channel;
        FileLock fileLock;
    }

    private final Holder holder;
    private boolean released;

    private MirrorLock(Holder holder) {
        this.holder = holder;
    }

    /** Blocks until this thread holds the writer lock of {@code dir} (which must exist). */
    public static MirrorLock acquire(Path dir) throws IOException {
        Path key = dir.toRealPath();
        Holder h = HOLDERS.computeIfAbsent(key, k -> new Holder());
        h.lock.lock();
        if (h.lock.getHoldCount() == 1) {
            try {
                h.channel = FileChannel.open(key.resolve(FILE_NAME), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE);
                h.fileLock = h.channel.lock();
            } catch (IOException | RuntimeException e) {
                closeQuietly(h);
                h.lock.unlock();
                throw new IOException("cannot lock mirror " + key + " (" + FILE_NAME + "): " + e.getMessage(), e);
            }
        }
        return new MirrorLock(h);
    }


    /** Releases one hold; the OS lock goes with the last. */
    @Override
    public void close() throws IOException {
        if (released) {
            return;
        }
        released = true;
        try {
            if (holder.lock.getHoldCount() == 1) {
                IOException failure = null;
                try {
                    holder.fileLock.release();
                } catch (IOException e) {
                    failure = e;
                }
                closeQuietly(holder);
                if (failure != null) {
                    throw failure;
                }
            }
        } finally {
            holder.lock.unlock();
        }
    }

    private static void closeQuietly(Holder h) {
        if (h.channel != null) {
            try {
                h.channel.close();
            } catch (IOException ignored) {
                // closing releases the OS lock too; nothing more to do
            }
        }
        h.channel = null;
        h.fileLock = null;
    }
}

package dev.pinfleet.agent.install;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Starts write-back early, so that the one flush a release needs before its switch ({@link Durability#syncTree})
 * finds little left to write: while wheels are being unpacked and linked, a {@code sync --file-system} of the
 * cache's file system runs in the background after every {@link #THRESHOLD} bytes written, at most one at a time.
 * Only a speed-up: durability still comes from the flush before the switch. Without {@code sync(1)} it does
 * nothing. Thread-safe.
 */
final class Flusher {
    /** Bytes unpacked between two background flushes. */
    static final long THRESHOLD = 64L << 20;

    private final Path target;
    private Process running;    // guarded by this
    private long sinceLast;     // guarded by this
    private boolean unavailable; // guarded by this

    Flusher(Path target) {
        this.target = target;
    }

    /** Counts bytes written; starts a background flush once {@link #THRESHOLD} have piled up. */
    synchronized void written(long bytes) {
        sinceLast += bytes;
        if (sinceLast >= THRESHOLD) {
            kick();
        }
    }

    /** Starts a background flush now, unless one is running. */
    synchronized void kick() {
        if (unavailable || (running != null && running.isAlive())) {
            return;
        }
        sinceLast = 0;
        try {
            running = new ProcessBuilder("sync", "--file-system", target.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            unavailable = true; // no sync(1): the flush before the switch does it all
        }
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Hashing;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import java.util.zip.CRC32;

/**
 * Gets SHA-256 compiled, and protobuf's JSON mapping set up, before the first deploy needs them. A fresh JVM runs the JDK's SHA-256 as interpreted
 * bytecode (about 20 MB/s here) until the JIT compiles it into the CPU's SHA instructions (over 500 MB/s); the
 * first cold deploy of a new agent hashes every downloaded and every unpacked byte, and paid for that in its
 * first seconds. At start the agent hashes a few megabytes in small chunks on a low-priority daemon thread
 * (bounded: 16 MiB or one second), off any deploy's path; then it writes and reads a release marker once (the
 * JSON mapping costs a fresh JVM some hundreds of milliseconds the first time, which a first build, writing its
 * marker, would otherwise pay).
 */
public final class Warmup {
    private static final Logger LOG = Logger.getLogger(Warmup.class.getName());
    private static final AtomicBoolean STARTED = new AtomicBoolean();
    static final int CHUNK = 1024;
    static final long MAX_BYTES = 16L << 20;
    static final long MAX_NANOS = TimeUnit.SECONDS.toNanos(1);

    private Warmup() {}

    /** Starts the warm-up once per JVM; later calls do nothing. */
    public static void start() {
        if (STARTED.compareAndSet(false, true)) {
            Thread t = new Thread(() -> {
                run();
                MarkerFile.warmUp();
            }, "pinfleet-warmup");
            t.setDaemon(true);
            t.setPriority(Thread.MIN_PRIORITY);
            t.start();
        }
    }

    /** Hashes until {@link #MAX_BYTES} or {@link #MAX_NANOS}; returns the bytes hashed. */
    static long run() {
        byte[] chunk = new byte[CHUNK];
        for (int i = 0; i < chunk.length; i++) {
            chunk[i] = (byte) (i * 31 + 7);
        }
        MessageDigest md = Hashing.sha256();
        CRC32 crc = new CRC32();
        long start = System.nanoTime();
        long bytes = 0;
        while (bytes < MAX_BYTES && System.nanoTime() - start < MAX_NANOS) {
            md.update(chunk);
            crc.update(chunk);
            bytes += chunk.length;
        }
        md.digest();
        LOG.fine("hash warm-up: " + (bytes >> 10) + " KiB in " + (System.nanoTime() - start) / 1_000_000 + " ms");
        return bytes;
    }
}

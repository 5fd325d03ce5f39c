package dev.pinfleet.agent.fetch;

import dev.pinfleet.manifest.Hashing;
import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;

/**
 * A download in progress: a temp file in the store's tmp directory plus the running SHA-256 of the bytes
 * written so far, so that a cut download can be continued (HTTP Range) without re-reading the prefix.
 * Writes use java.io streams, which thread interrupts do not close.
 */
final class PartialFile {
    private final Path file;
    private final MessageDigest digest = Hashing.sha256();
    private OutputStream out;
    private long bytes;
    private long hashNanos;

    private PartialFile(Path file) throws IOException {
        this.file = file;
        this.out = open();
    }

    /** Creates an empty temp file in {@code dir}. */
    static PartialFile create(Path dir) throws IOException {
        return new PartialFile(Files.createTempFile(dir, "fetch-", ".part"));
    }

    Path path() {
        return file;
    }

    /** Bytes written (and hashed) so far. */
    long bytes() {
        return bytes;
    }

    /** Time spent hashing so far, in nanoseconds. */
    long hashNanos() {
        return hashNanos;
    }

    /** Appends and hashes {@code n} bytes. */
    void append(byte[] buf, int n) throws IOException {
        long t = System.nanoTime();
        digest.update(buf, 0, n);
        hashNanos += System.nanoTime() - t;
        out.write(buf, 0, n);
        bytes += n;
    }

    /** Empties the file and the digest, to start the download over. */
    void reset() throws IOException {
        if (bytes == 0) {
            return;
        }
        out.close();
        out = open();
        digest.reset();
        bytes = 0;
    }

    /** Flushes and closes the file and returns the SHA-256 (lowercase hex) of its bytes; no append after this. */
    String finish() throws IOException {
        out.close();
        long t = System.nanoTime();
        String hex = Hashing.hex(digest.digest());
        hashNanos += System.nanoTime() - t;
        return hex;
    }

    /** Closes and deletes the file, quietly (used on every failure path). */
    void delete() {
        try {
            out.close();
        } catch (IOException ignored) {
            // the file goes anyway
        }
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // cleanTemp removes it at the next start
        }
    }

    private OutputStream open() throws IOException {
        return new BufferedOutputStream(new FileOutputStream(file.toFile()), 1 << 16);
    }
}

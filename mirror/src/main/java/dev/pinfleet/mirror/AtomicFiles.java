package dev.pinfleet.mirror;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Write-to-temporary-then-rename helpers. Temporary files are dot-files in the target's own directory (so
 * the rename is atomic and index scans and the server skip them) and are created world-readable (0644
 * before umask), because the mirror is read by a web server that may run as another user.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    private static final FileAttribute<?> READABLE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--"));

    /** Creates a new, empty, uniquely named {@code .<name>.<random>.tmp} file in {@code dir}. */
    public static Path createTemp(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong())
                    + ".tmp");
            try {
                try {
                    return Files.createFile(tmp, READABLE);
                } catch (UnsupportedOperationException notPosix) {
                    return Files.createFile(tmp);
                }
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            }
        }
    }

    /**
     * Replaces {@code target} with {@code data} atomically (temporary file, fsync, rename), unless it already
     * holds exactly these bytes. Parent directories are created.
     *
     * @return true when the file was written, false when it was already up to date
     */
    public static boolean writeIfChanged(Path target, byte[] data) throws IOException {
        if (Files.isRegularFile(target) && Files.size(target) == data.length
                && Arrays.equals(Files.readAllBytes(target), data)) {
            return false;
        }
        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = createTemp(parent, target.getFileName().toString());
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(data);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return true;
    }

    /** Flushes a directory's entries (a rename into it) to disk; a no-op where directories cannot be opened. */
    public static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // some platforms and file systems cannot open or sync directories; the rename itself stands
        }
    }
}

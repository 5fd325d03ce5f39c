package dev.pinfleet.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongSupplier;

/**
 * The one way files are written atomically and durably, by the agent (state, releases, {@code current}), the
 * mirror (index pages, policy, published wheels) and the CLI (manifests, reports, requirements): write a
 * temporary dot-file in the target's own directory ({@code .<name>.<random>.tmp}: same file system, so the
 * rename is atomic; skipped by the mirror's index and server), fsync it, rename it over the target, fsync the
 * directory. Readers see the old bytes or the new ones, never half a file, also after a crash.
 *
 * <p>Files are created {@code rw-r--r--} (before umask): the mirror is read by a web server that may run as
 * another user, and nothing written here is a secret.
 */
public final class Durable {
    private Durable() {}

    private static final FileAttribute<?> READABLE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--"));

    /** How many random names {@link #createTemp} tries before it gives up (one collision of 64 random bits is rare). */
    static final int TEMP_NAME_ATTEMPTS = 100;

    /** Creates a new, empty, uniquely named {@code .<name>.<random>.tmp} file in {@code dir}. */
    public static Path createTemp(Path dir, String name) throws IOException {
        return createTemp(dir, name, () -> ThreadLocalRandom.current().nextLong());
    }

    /**
     * {@link #createTemp(Path, String)} with the random part of the name drawn from {@code suffixes}: a name already
     * taken (by another writer's temporary file) is never opened, the next one is tried, up to
     * {@link #TEMP_NAME_ATTEMPTS} names. Package-private so that tests can make names collide.
     */
    static Path createTemp(Path dir, String name, LongSupplier suffixes) throws IOException {
        Path tmp = null;
        for (int attempt = 0; attempt < TEMP_NAME_ATTEMPTS; attempt++) {
            tmp = dir.resolve("." + name + "." + Long.toHexString(suffixes.getAsLong()) + ".tmp");
            try {
                try {
                    return Files.createFile(tmp, READABLE);
                } catch (UnsupportedOperationException notPosix) {
                    return Files.createFile(tmp);
                }
            } catch (FileAlreadyExistsException taken) {
                // another writer's temporary file: try the next name
            }
        }
        throw new FileSystemException(dir.toString(), null, "no temporary file for " + name + " could be created: "
                + TEMP_NAME_ATTEMPTS + " random names in a row were taken, the last " + tmp.getFileName());
    }

    /** Replaces a file's content atomically and durably; missing parent directories are created. */
    public static void replace(Path file, byte[] content) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = createTemp(parent, file.getFileName().toString());
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(content);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        fsyncDirectory(parent);
    }

    /**
     * {@link #replace}, unless {@code file} already holds exactly these bytes.
     *
     * @return true when the file was written, false when it was already up to date
     */
    public static boolean writeIfChanged(Path file, byte[] content) throws IOException {
        if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && Files.size(file) == content.length
                && Arrays.equals(Files.readAllBytes(file), content)) {
            return false;
        }
        replace(file, content);
        return true;
    }

    /**
     * Points {@code link} at {@code target} atomically: a temporary symlink renamed over the old one
     * (never unlink-then-create), then the directory is fsynced.
     */
    public static void swapSymlink(Path link, Path target) throws IOException {
        Path tmp = link.resolveSibling("." + link.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        Files.createSymbolicLink(tmp, target);
        try {
            Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        fsyncDirectory(link.getParent());
    }

    /** Renames a file or directory into place atomically and fsyncs its new parent. */
    public static void rename(Path from, Path to) throws IOException {
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        fsyncDirectory(to.toAbsolutePath().getParent());
    }

    /** Flushes a directory's entries (a rename into it) to disk. */
    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** Deletes a tree without following symlinks; a missing path is fine. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Files.delete(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}

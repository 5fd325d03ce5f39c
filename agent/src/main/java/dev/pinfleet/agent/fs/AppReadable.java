package dev.pinfleet.agent.fs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Modes of what the agent writes for the application to read: the store's directories, the unpacked wheel cache and
 * every release tree. Only the agent's user may write: files {@code rw-r--r--} or {@code rwxr-xr-x}, directories
 * {@code rwxr-xr-x}, so the application, which runs as another user, can neither change a file (a cached file is
 * hard-linked into every release: a change to one would change them all) nor add, rename or remove an entry. Given at
 * creation, never by a later chmod: the umask can only take bits away, so no umask makes these writable for the group
 * or others, and no extra system call is spent. (The owner keeps its write bit: hard-linking a file one may not write
 * costs the kernel an extra permission check per link, and the owner can chmod anyway.)
 */
public final class AppReadable {
    private AppReadable() {}

    /** {@code rwxr-xr-x}. */
    public static final FileAttribute<?> DIR = PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rwxr-xr-x"));
    /** {@code rw-r--r--}. */
    public static final FileAttribute<?> FILE = PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rw-r--r--"));
    /** {@code rwxr-xr-x}. */
    public static final FileAttribute<?> EXECUTABLE = PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rwxr-xr-x"));

    private static final Set<StandardOpenOption> CREATE = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);

    /** {@link #FILE} or {@link #EXECUTABLE}. */
    public static FileAttribute<?> file(boolean executable) {
        return executable ? EXECUTABLE : FILE;
    }

    /** Creates a directory that must not exist. */
    public static Path createDirectory(Path dir) throws IOException {
        return Files.createDirectory(dir, DIR);
    }

    /** Creates a directory and the parents that do not exist. */
    public static Path createDirectories(Path dir) throws IOException {
        return Files.createDirectories(dir, DIR);
    }

    /** A new file (it must not exist) open for writing. */
    public static FileChannel create(Path file, boolean executable) throws IOException {
        return FileChannel.open(file, CREATE, file(executable));
    }

    /** Writes a new file (it must not exist). */
    public static void write(Path file, byte[] content, boolean executable) throws IOException {
        try (FileChannel ch = create(file, executable)) {
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    /** Copies {@code from} into a new file {@code to} (it must not exist). */
    public static void copy(Path from, Path to, boolean executable) throws IOException {
        try (InputStream in = Files.newInputStream(from); OutputStream out = Channels.newOutputStream(create(to, executable))) {
            in.transferTo(out);
        }
    }
}

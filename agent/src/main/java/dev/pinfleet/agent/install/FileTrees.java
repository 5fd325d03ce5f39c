package dev.pinfleet.agent.install;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/** Recursive deletion that never follows symbolic links. */
public final class FileTrees {
    private FileTrees() {}

    /** Told of each file deleted; answers whether to go on (false leaves the rest for later). */
    @FunctionalInterface
    public interface AfterFile {
        boolean deleted(Path file) throws IOException;
    }

    /** Deletes a file or a directory tree; a symlink is removed, not followed. Absent is fine. */
    public static void delete(Path root) throws IOException {
        delete(root, f -> true);
    }

    /** As {@link #delete(Path)}, telling {@code after} of each file and stopping when it answers false. */
    public static void delete(Path root, AfterFile after) throws IOException {
        if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return after.deleted(file) ? FileVisitResult.CONTINUE : FileVisitResult.TERMINATE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null && !(exc instanceof NoSuchFileException)) {
                    throw exc;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** As {@link #delete} but swallowing errors, for cleanup after another failure. */
    static void deleteQuietly(Path root) {
        try {
            delete(root);
        } catch (IOException | RuntimeException ignored) {
            // best effort: the original failure is what the caller reports
        }
    }
}

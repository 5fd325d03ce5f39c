package dev.pinfleet.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File-system failures as an operator reads them: the path and why, never the exception's type alone. */
class IoErrorsTest {
    @TempDir Path dir;

    @Test
    void realFailuresNameThePathAndTheReason() throws Exception {
        Path missing = dir.resolve("nope/store");
        IOException notThere = assertThrows(IOException.class, () -> Files.newDirectoryStream(missing).close());
        assertEquals(missing + ": does not exist", IoErrors.describe(notThere));
        Path file = Files.writeString(dir.resolve("root"), "a file where a directory belongs");
        IOException notDir = assertThrows(IOException.class, () -> Files.newDirectoryStream(file).close());
        assertEquals(file + ": not a directory", IoErrors.describe(notDir));
    }

    @Test
    void permissionDeniedSaysSoAndWrappedCausesAreUnwrapped() {
        // As root no permission is ever denied here, so this one is built as the JDK builds it: the path alone.
        AccessDeniedException denied = new AccessDeniedException("/var/lib/pinfleet/store");
        assertEquals("/var/lib/pinfleet/store: permission denied (not writable or not readable by this user "
                + System.getProperty("user.name") + ")", IoErrors.describe(denied));
        assertEquals("/x: does not exist", IoErrors.describe(new IOException("/x", new NoSuchFileException("/x"))));
        assertEquals("/d: not a directory", IoErrors.describe(new NotDirectoryException("/d")));
        assertEquals("input/output error", IoErrors.describe(new IOException()));
    }

    @Test
    void eachFileSystemFailureHasItsOwnWords() throws Exception {
        Path file = Files.writeString(dir.resolve("taken"), "x");
        IOException exists = assertThrows(IOException.class, () -> Files.createFile(file));
        assertEquals(file + ": already exists", IoErrors.describe(exists));
        Path full = Files.createDirectories(dir.resolve("full/child"));
        IOException notEmpty = assertThrows(IOException.class, () -> Files.delete(full.getParent()));
        assertEquals(full.getParent() + ": directory not empty", IoErrors.describe(notEmpty));
        // a rename names both paths; the JDK's own reason is kept when the type says nothing more
        assertEquals("/a -> /b: Device or resource busy",
                IoErrors.describe(new FileSystemException("/a", "/b", "Device or resource busy")));
        assertEquals("/a: file system error", IoErrors.describe(new FileSystemException("/a")));
        assertEquals("Read-only file system", IoErrors.describe(new FileSystemException(null, null,
                "Read-only file system")), "no path: the reason alone");
        assertEquals("connection reset", IoErrors.describe(new IOException("connection reset")));
        assertEquals("input/output error", IoErrors.describe(new IOException("  ")));
    }
}

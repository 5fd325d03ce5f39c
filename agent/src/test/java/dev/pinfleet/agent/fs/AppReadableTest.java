package dev.pinfleet.agent.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the agent writes for the application is created with the modes {@link AppReadable} names: nobody but the
 * owner may write, files are executable exactly when asked. The umask can only take bits away, so the owner's bits
 * and the absence of group and other write bits hold under any umask; the read bits are not asserted.
 */
class AppReadableTest {
    @TempDir
    Path dir;

    private static Set<PosixFilePermission> mode(Path p) throws Exception {
        return Files.getPosixFilePermissions(p);
    }

    private static void assertOwnerOnlyWrites(Path p, boolean executable) throws Exception {
        Set<PosixFilePermission> m = mode(p);
        assertTrue(m.contains(PosixFilePermission.OWNER_READ) && m.contains(PosixFilePermission.OWNER_WRITE), p + " " + m);
        assertEquals(executable, m.contains(PosixFilePermission.OWNER_EXECUTE), p + " " + m);
        assertFalse(m.contains(PosixFilePermission.GROUP_WRITE) || m.contains(PosixFilePermission.OTHERS_WRITE),
                p + " " + m);
    }

    @Test
    void theModesAreRwxrxrxForDirectoriesAndExecutablesAndRwrrForFiles() {
        assertEquals(PosixFilePermissions.fromString("rwxr-xr-x"), AppReadable.DIR.value());
        assertEquals(PosixFilePermissions.fromString("rw-r--r--"), AppReadable.FILE.value());
        assertEquals(PosixFilePermissions.fromString("rwxr-xr-x"), AppReadable.EXECUTABLE.value());
        assertEquals(AppReadable.EXECUTABLE, AppReadable.file(true));
        assertEquals(AppReadable.FILE, AppReadable.file(false));
    }

    @Test
    void directoriesAreCreatedWithTheirModeAndReturned() throws Exception {
        Path one = dir.resolve("one");
        assertEquals(one, AppReadable.createDirectory(one));
        assertOwnerOnlyWrites(one, true);
        assertThrows(FileAlreadyExistsException.class, () -> AppReadable.createDirectory(one));
        Path deep = dir.resolve("a/b/c");
        assertEquals(deep, AppReadable.createDirectories(deep));
        assertOwnerOnlyWrites(deep, true);
        assertOwnerOnlyWrites(dir.resolve("a/b"), true);
    }

    @Test
    void filesAreNewWithTheirContentAndExecutableOnlyWhenAsked() throws Exception {
        byte[] content = new byte[300_000];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 31);
        }
        Path plain = dir.resolve("plain.py");
        AppReadable.write(plain, content, false);
        assertArrayEquals(content, Files.readAllBytes(plain));
        assertOwnerOnlyWrites(plain, false);
        assertThrows(FileAlreadyExistsException.class, () -> AppReadable.write(plain, content, false),
                "never over an existing file");

        Path script = dir.resolve("bin-tool");
        AppReadable.copy(plain, script, true);
        assertArrayEquals(content, Files.readAllBytes(script));
        assertOwnerOnlyWrites(script, true);

        Path opened = dir.resolve("opened");
        try (FileChannel ch = AppReadable.create(opened, true)) {
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        }
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(opened));
        assertOwnerOnlyWrites(opened, true);
    }
}

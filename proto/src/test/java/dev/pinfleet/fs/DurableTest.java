package dev.pinfleet.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The atomic writes everything else builds on. What a crash would show (the fsyncs) is not observable here; what a
 * reader sees is: the whole new content at the target, nothing left beside it, links replaced and trees deleted
 * without following links.
 */
class DurableTest {
    @TempDir Path dir;

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Everything in {@code dir} but {@code keep}: the temporary files a write must not leave behind. */
    private List<String> leftovers(String... keep) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !List.of(keep).contains(n)).sorted().toList();
        }
    }

    @Test
    void aTemporaryFileIsAFreshEmptyDotFileOthersMayRead() throws Exception {
        Path a = Durable.createTemp(dir, "index.html");
        Path b = Durable.createTemp(dir, "index.html");
        for (Path t : List.of(a, b)) {
            assertEquals(dir, t.getParent());
            assertTrue(t.getFileName().toString().matches("\\.index\\.html\\.[0-9a-f]+\\.tmp"), t.toString());
            assertEquals(0, Files.size(t));
            // rw-r--r-- before the umask: a web server running as another user reads what the mirror writes
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(t);
            assertTrue(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                    PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ).containsAll(mode), mode.toString());
        }
        assertNotEquals(a, b);
    }

    @Test
    void replaceWritesTheWholeContentCreatingParentsAndLeavesNoTemporaryFile() throws Exception {
        Path file = dir.resolve("a/b/state.json");
        byte[] big = new byte[3 << 20]; // several channel writes' worth
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        Durable.replace(file, big);
        assertArrayEquals(big, Files.readAllBytes(file));
        Durable.replace(file, bytes("short"));
        assertEquals("short", Files.readString(file), "the old, longer content is gone entirely");
        try (Stream<Path> s = Files.list(file.getParent())) {
            assertEquals(List.of(file), s.toList());
        }
    }

    @Test
    void writeIfChangedWritesOnlyOtherBytes() throws Exception {
        Path file = dir.resolve("index.html");
        assertTrue(Durable.writeIfChanged(file, bytes("one")), "a missing file is written");
        Object inode = Files.readAttributes(file, "unix:ino").get("ino");
        assertFalse(Durable.writeIfChanged(file, bytes("one")));
        assertEquals(inode, Files.readAttributes(file, "unix:ino").get("ino"), "the same bytes: the file stays");
        assertTrue(Durable.writeIfChanged(file, bytes("two")), "same size, other bytes");
        assertEquals("two", Files.readString(file));
        assertTrue(Durable.writeIfChanged(file, bytes("three")), "another size");
        assertEquals("three", Files.readString(file));
        // a link to a file holding these bytes is no file holding them: it is replaced by one
        Path target = Files.writeString(dir.resolve("elsewhere"), "three");
        Path link = Files.createSymbolicLink(dir.resolve("link.html"), target);
        assertTrue(Durable.writeIfChanged(link, bytes("three")));
        assertTrue(Files.isRegularFile(link, LinkOption.NOFOLLOW_LINKS));
        assertEquals(List.of("elsewhere", "index.html", "link.html"), leftovers());
    }

    @Test
    void swapSymlinkReplacesTheLinkInOneStep() throws Exception {
        Path one = Files.createDirectory(dir.resolve("release-1"));
        Path two = Files.createDirectory(dir.resolve("release-2"));
        Path current = dir.resolve("current");
        Durable.swapSymlink(current, one);
        assertEquals(one, Files.readSymbolicLink(current));
        Durable.swapSymlink(current, two);
        assertEquals(two, Files.readSymbolicLink(current));
        assertEquals(List.of("current", "release-1", "release-2"), leftovers());
    }

    @Test
    void renameMovesIntoPlaceAndAMissingDirectoryCannotBeSynced() throws Exception {
        Path from = Files.writeString(dir.resolve(".staged.tmp"), "wheel");
        Path to = Files.createDirectory(dir.resolve("packages")).resolve("a.whl");
        Durable.rename(from, to);
        assertEquals("wheel", Files.readString(to));
        assertFalse(Files.exists(from));
        assertThrows(NoSuchFileException.class, () -> Durable.fsyncDirectory(dir.resolve("gone")));
    }

    @Test
    void deleteTreeDeletesEverythingBelowWithoutFollowingLinks() throws Exception {
        Path outside = Files.createDirectory(dir.resolve("outside"));
        Path kept = Files.writeString(outside.resolve("kept"), "k");
        Path tree = Files.createDirectories(dir.resolve("tree/a/b"));
        Files.writeString(tree.resolve("f"), "f");
        Files.createSymbolicLink(dir.resolve("tree/a/into-outside"), outside);
        Durable.deleteTree(dir.resolve("tree"));
        assertFalse(Files.exists(dir.resolve("tree"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(kept), "a link inside the tree is deleted, not followed");

        Path link = Files.createSymbolicLink(dir.resolve("link"), outside);
        Durable.deleteTree(link);
        assertFalse(Files.exists(link, LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.exists(kept), "a link given as the tree is deleted, not its target");

        Durable.deleteTree(dir.resolve("never-was")); // a missing path is fine
        assertEquals(List.of("outside"), leftovers());
    }
}

package dev.pinfleet.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
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

    /** Hands out {@code suffixes} in order; a caller asking for more is a loop that does not end (the test's bound). */
    private static LongSupplier names(long... suffixes) {
        AtomicInteger drawn = new AtomicInteger();
        return () -> {
            int i = drawn.getAndIncrement();
            if (i >= suffixes.length) {
                throw new IllegalStateException("asked for a name " + (i + 1) + " times, only " + suffixes.length
                        + " prepared");
            }
            return suffixes[i];
        };
    }

    @Test
    void aTakenTemporaryNameIsNeitherOpenedNorTruncatedTheNextRandomNameIsTried() throws Exception {
        // two other writers' temporary files, mid-write, under the names the first two draws give
        Path first = Files.writeString(dir.resolve(".index.html.a1.tmp"), "another writer's half");
        Path second = Files.writeString(dir.resolve(".index.html.b2.tmp"), "a third writer's half");
        Path t = Durable.createTemp(dir, "index.html", names(0xa1, 0xb2, 0xc3));
        assertEquals(dir.resolve(".index.html.c3.tmp"), t);
        assertEquals(0, Files.size(t));
        assertEquals("another writer's half", Files.readString(first));
        assertEquals("a third writer's half", Files.readString(second));
    }

    @Test
    void whenEveryNameIsTakenCreateTempGivesUpAfterItsAttemptsNamingTheDirectoryAndTheFile() throws Exception {
        Path taken = Files.writeString(dir.resolve(".state.json.7.tmp"), "kept");
        AtomicInteger asked = new AtomicInteger();
        FileSystemException e = assertThrows(FileSystemException.class,
                () -> Durable.createTemp(dir, "state.json", () -> {
                    if (asked.incrementAndGet() > 1000) { // the test's bound: a retry loop that does not end
                        throw new IllegalStateException("createTemp asked for a 1001st name");
                    }
                    return 7;
                }));
        assertEquals(Durable.TEMP_NAME_ATTEMPTS, asked.get(), "every attempt draws one name, then it stops");
        assertEquals(dir + ": no temporary file for state.json could be created: 100 random names in a row were "
                + "taken, the last .state.json.7.tmp", e.getMessage());
        assertEquals(e.getMessage(), IoErrors.describe(e), "an operator reads the same words");
        assertEquals("kept", Files.readString(taken));
        assertEquals(List.of(".state.json.7.tmp"), leftovers());
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

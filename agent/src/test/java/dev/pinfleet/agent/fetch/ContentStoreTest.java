package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContentStoreTest {
    @TempDir
    Path dir;

    @Test
    void layoutIsContentAddressed() throws IOException {
        ContentStore store = new ContentStore(dir.resolve("store"));
        assertTrue(Files.isDirectory(dir.resolve("store/sha256")));
        assertTrue(Files.isDirectory(dir.resolve("store/tmp")));
        String sha = Hashing.sha256Hex(new byte[0]);
        assertEquals(dir.resolve("store/sha256/" + sha.substring(0, 2) + "/" + sha), store.path(sha));
        assertEquals(dir.resolve("store/tmp"), store.tmpDir());
    }

    @Test
    void pathRefusesWhatIsNotADigest() throws IOException {
        ContentStore store = new ContentStore(dir);
        assertThrows(IllegalArgumentException.class, () -> store.path("../../etc/passwd"));
        assertThrows(IllegalArgumentException.class, () -> store.path("AB" + "0".repeat(62)));
    }

    @Test
    void commitMovesIntoALazilyCreatedDirectoryAndContainsChecksTheSize() throws IOException {
        ContentStore store = new ContentStore(dir);
        String sha = put(store, "hello");
        Path entry = store.path(sha);
        assertTrue(Files.isRegularFile(entry));
        assertEquals("hello", Files.readString(entry));
        assertTrue(store.contains(sha, 5));
        assertFalse(store.contains(sha, 6));
        assertFalse(store.contains(Hashing.sha256Hex("other".getBytes(StandardCharsets.UTF_8)), 5));
        assertEquals(0, count(store.tmpDir()));
    }

    @Test
    void commitReturnsTheEntryAndCountsEveryCommitSinceTheStoreWasOpened() throws IOException {
        ContentStore store = new ContentStore(dir);
        assertEquals(0, store.commits());
        byte[] bytes = "a wheel".getBytes(StandardCharsets.UTF_8);
        String sha = Hashing.sha256Hex(bytes);
        Path tmp = Files.write(Files.createTempFile(store.tmpDir(), "t", ".part"), bytes);

        assertEquals(store.path(sha), store.commit(tmp, sha));

        assertEquals(1, store.commits());
        put(store, "another");
        assertEquals(2, store.commits(), "a prune that saw 1 knows something was added since");
        assertEquals(0, new ContentStore(dir).commits(), "counted per opened store, not read from disk");
    }

    @Test
    void cleanTempRemovesLeftovers() throws IOException {
        ContentStore store = new ContentStore(dir);
        String kept = put(store, "verified");
        Files.writeString(store.tmpDir().resolve("fetch-1.part"), "half a wheel");
        Files.createDirectories(store.tmpDir().resolve("nested/deeper"));
        Files.writeString(store.tmpDir().resolve("nested/deeper/x"), "x");

        store.cleanTemp();

        assertEquals(0, count(store.tmpDir()));
        assertTrue(Files.isDirectory(store.tmpDir()));
        assertTrue(store.contains(kept, 8));
    }

    @Test
    void pruneKeepsReferencedEntries() throws IOException {
        ContentStore store = new ContentStore(dir);
        String keep = put(store, "keep me");
        String drop1 = put(store, "drop");
        String drop2 = put(store, "drop too");
        Path stray = dir.resolve("sha256/zz-notes.txt");
        Files.writeString(stray, "not an entry");
        assertEquals(7 + 4 + 8, store.totalBytes());

        long freed = store.prune(Set.of(keep));

        assertEquals(4 + 8, freed);
        assertTrue(store.contains(keep, 7));
        assertFalse(Files.exists(store.path(drop1)));
        assertFalse(Files.exists(store.path(drop2)));
        assertFalse(Files.exists(store.path(drop1).getParent()) && !store.path(drop1).getParent()
                .equals(store.path(keep).getParent()), "empty <ab> directory removed");
        assertTrue(Files.exists(stray), "files that are not entries are left alone");
        assertEquals(7, store.totalBytes());
    }

    private static String put(ContentStore store, String content) throws IOException {
        byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
        String sha = Hashing.sha256Hex(bytes);
        Path tmp = Files.createTempFile(store.tmpDir(), "t", ".part");
        Files.write(tmp, bytes);
        store.commit(tmp, sha);
        return sha;
    }

    private static long count(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.count();
        }
    }
}

package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.testing.Descriptors;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The wheel cache's life cycle, driven step by step: its unpacks run on an executor the test controls (at once, or
 * when the test says), so every state between "prepared", "unpacking", "pending", "in place" and "dropped" is seen
 * without waiting for a thread. What a build relies on: an entry under its sha256 is complete; nothing of a failed or
 * abandoned unpack stays under {@code .tmp}; a failure is not remembered beyond the builds that saw it.
 */
class WheelCacheTest {
    @TempDir
    Path tmp;
    Path root;
    Path inputs;
    /** Tasks handed to the {@link #held} executor, run when the test says. */
    final List<Runnable> queued = new ArrayList<>();
    final Executor held = queued::add;
    final Executor direct = Runnable::run;
    Path alpha;
    String alphaSha;
    Path beta;
    String betaSha;

    @BeforeEach
    void setUp() throws Exception {
        root = Files.createDirectories(tmp.resolve("cache"));
        inputs = Files.createDirectories(tmp.resolve("inputs"));
        alpha = TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "A = 1\n").build(inputs);
        alphaSha = TestWheels.wheelArtifact(alpha).getSha256();
        beta = TestWheels.wheel("beta", "2.0").file("beta/__init__.py", "B = 2\n").build(inputs);
        betaSha = TestWheels.wheelArtifact(beta).getSha256();
    }

    private WheelCache cache(Executor pool) {
        return new WheelCache(root, pool, new Flusher(root));
    }

    private static String name(Path wheel) {
        return wheel.getFileName().toString();
    }

    private List<Path> pendingDirs() throws IOException {
        return InstallFixture.unpackDirs(root);
    }

    private void runQueued() {
        while (!queued.isEmpty()) {
            queued.remove(0).run();
        }
    }

    /** Takes the entry for a build and gives it back as a flushed build does: it moves into place. */
    private WheelIndex useAndPublish(WheelCache c, String sha, Path wheel) throws Exception {
        WheelCache.Use u = c.obtain(sha, () -> wheel, name(wheel));
        WheelIndex index = u.await();
        c.release(List.of(u), true);
        return index;
    }

    @Test
    void aFlushedBuildMovesTheUnpackIntoPlaceAndTheEntryIsFoundAgainAfterARestart() throws Exception {
        WheelCache c = cache(direct);
        long t0 = System.nanoTime();
        WheelCache.Use u = c.obtain(alphaSha, () -> alpha, name(alpha));
        WheelIndex unpacked = u.await();
        long elapsedMillis = (System.nanoTime() - t0) / 1_000_000 + 1;
        assertEquals(0, Descriptors.openOn(alpha), "the unpack closed the wheel file");
        // the unpack time a wheel's result reports is part of the time the caller saw pass, never more
        assertTrue(u.unpackMillis() >= 0 && u.unpackMillis() <= elapsedMillis, u.unpackMillis() + " ms of " + elapsedMillis);
        assertNull(c.lookup(alphaSha), "not under its sha256 before a flushed release used it");
        assertEquals(-1, c.unpacks(), "an unpack is pending");
        c.release(List.of(u), true);
        assertEquals(1, c.unpacks());
        assertEquals(List.of(), pendingDirs());
        Path entry = c.entryDir(alphaSha);
        assertTrue(Files.isRegularFile(entry.resolve("index")));
        assertEquals(entry, c.lookup(alphaSha).dir());
        assertEquals(unpacked.files(), c.lookup(alphaSha).files());

        // an agent started again over the same cache finds the entry on disk and unpacks nothing
        WheelCache restarted = cache(direct);
        WheelIndex found = restarted.lookup(alphaSha);
        assertNotNull(found, "the entry in place is found by a new cache over the same directory");
        assertEquals(unpacked.files(), found.files());
        WheelCache.Use again = restarted.obtain(alphaSha, () -> {
            throw new IOException("the store must not be read for a cached wheel");
        }, name(alpha));
        assertEquals(0, again.unpackMillis());
        assertEquals(entry, again.await().dir());
        restarted.release(List.of(again), true);
        restarted.prepare(alphaSha, () -> {
            throw new IOException("a cached wheel is not unpacked early either");
        }, name(alpha));
        assertEquals(0, restarted.unpacks());
        assertEquals(List.of(), pendingDirs());
    }

    @Test
    void anEntryRemovedBehindTheCachesBackIsNotServedFromMemory() throws Exception {
        WheelCache c = cache(direct);
        useAndPublish(c, alphaSha, alpha);
        assertNotNull(c.lookup(alphaSha));
        FileTrees.delete(c.entryDir(alphaSha));
        assertNull(c.lookup(alphaSha), "the remembered index of an entry that is gone");
        useAndPublish(c, alphaSha, alpha); // unpacked again, from the store
        assertEquals(c.entryDir(alphaSha), c.lookup(alphaSha).dir());
        assertTrue(Files.isRegularFile(c.entryDir(alphaSha).resolve("files/alpha/__init__.py")));
    }

    @Test
    void aFailedUnpackIsForgottenSoTheNextBuildReadsTheStoreAgain() throws Exception {
        WheelCache c = cache(direct);
        c.prepare(alphaSha, () -> {
            throw new NoSuchFileException("store/alpha (not there yet)");
        }, name(alpha));
        assertEquals(1, c.unpacks(), "the failed unpack is not pending any more");
        assertEquals(List.of(), pendingDirs());
        WheelCache.Use u = c.obtain(alphaSha, () -> alpha, name(alpha));
        assertEquals("alpha", u.await().name(), "unpacked again from the store, not the earlier failure");
        assertEquals(-1, c.unpacks());
        c.release(List.of(u), true);
        assertEquals(2, c.unpacks());
    }

    @Test
    void aBuildWaitingForAnUnpackGetsItsFailureWithTheSameMessageAndType() throws Exception {
        WheelCache c = cache(held);
        WheelCache.Use io = c.obtain(alphaSha, () -> {
            throw new IOException("disk on fire");
        }, name(alpha));
        WheelCache.Use runtime = c.obtain(betaSha, () -> {
            throw new IllegalStateException("a bug");
        }, name(beta));
        WheelCache.Use error = c.obtain("bb".repeat(32), () -> {
            throw new AssertionError("a broken invariant");
        }, name(beta));
        runQueued();
        assertEquals("a broken invariant", assertThrows(AssertionError.class, error::await).getMessage());
        IOException e = assertThrows(IOException.class, io::await);
        assertEquals("disk on fire", e.getMessage());
        IllegalStateException r = assertThrows(IllegalStateException.class, runtime::await);
        assertEquals("a bug", r.getMessage());
        Path broken = TestWheels.wheel("gamma", "1.0").file("gamma/__init__.py", "").metadataName("other").build(inputs);
        WheelCache.Use refused = c.obtain("cc".repeat(32), () -> broken, name(broken));
        runQueued();
        InstallException ie = assertThrows(InstallException.class, refused::await);
        assertTrue(ie.getMessage().startsWith(name(broken) + ": "), ie.getMessage());
        c.release(List.of(io, runtime, error, refused), false);
        assertEquals(List.of(), pendingDirs());
        assertEquals(4, c.unpacks());
    }

    @Test
    void discardingAFinishedPreparedUnpackRemovesItAtOnce() throws Exception {
        WheelCache c = cache(direct);
        c.prepare(alphaSha, () -> alpha, name(alpha));
        assertEquals(1, pendingDirs().size());
        c.discardIdle();
        assertEquals(List.of(), pendingDirs(), "the deploy failed: its prepared unpack goes now");
        assertEquals(1, c.unpacks(), "and nothing is pending");
    }

    @Test
    void discardingAnUnpackStillRunningRemovesItWhenItEnds() throws Exception {
        WheelCache c = cache(held);
        c.prepare(alphaSha, () -> alpha, name(alpha));
        c.discardIdle();
        assertEquals(1, c.unpacks(), "nothing is pending once it was discarded");
        runQueued(); // the unpack runs to its end after it was dropped
        assertEquals(List.of(), pendingDirs(), "an unpack dropped while it ran is removed when it ends");
        assertNull(c.lookup(alphaSha));
    }

    @Test
    void anUnpackHeldByABuildIsNotDiscardedAndAFlushedReleaseKeepsIt() throws Exception {
        WheelCache c = cache(direct);
        WheelCache.Use u = c.obtain(alphaSha, () -> alpha, name(alpha));
        c.discardIdle();
        assertEquals(1, pendingDirs().size(), "a build holds it");
        c.release(List.of(u), true);
        assertNotNull(c.lookup(alphaSha));
        c.discardIdle();
        assertNotNull(c.lookup(alphaSha), "an entry in place is never discarded");
    }

    @Test
    void pruneRemovesPreparedUnpacksNotKeptAndCrashLeftoversAndKeepsTheRest() throws Exception {
        WheelCache c = cache(direct);
        assertEquals(0, c.prune(Set.of()), "a cache that never unpacked has nothing to prune");
        c.prepare(alphaSha, () -> alpha, name(alpha));
        c.prepare(betaSha, () -> beta, name(beta));
        Path alphaWork = pendingDirs().stream().filter(p -> p.getFileName().toString().startsWith(alphaSha))
                .findFirst().orElseThrow();
        Path leftover = Files.createDirectories(root.resolve("wheels/.tmp/" + "dd".repeat(32) + "-crashed/files"));
        Path stray = Files.writeString(root.resolve("wheels/README"), "not an entry: left alone\n");
        assertEquals(3, pendingDirs().size());

        assertEquals(2, c.prune(Set.of(alphaSha)), "beta's prepared unpack and the leftover");
        assertEquals(List.of(alphaWork), pendingDirs());
        assertFalse(Files.exists(leftover));
        assertEquals(-1, c.unpacks(), "alpha is still pending");

        WheelCache.Use u = c.obtain(alphaSha, () -> {
            throw new IOException("the kept unpack must be used, not the store");
        }, name(alpha));
        assertEquals(alphaWork, u.await().dir());
        c.release(List.of(u), true);
        assertEquals(2, c.unpacks(), "beta's unpack is not pending any more either");
        assertEquals(List.of(), pendingDirs());
        assertNotNull(c.lookup(alphaSha));
        assertNull(c.lookup(betaSha));
        assertEquals(0, c.prune(Set.of(alphaSha)));
        assertEquals(1, c.prune(Set.of()), "alpha's entry");
        assertNull(c.lookup(alphaSha));
        assertTrue(Files.exists(stray));
    }

    @Test
    void anUnpackAnotherCacheAlreadyPutInPlaceIsDropped() throws Exception {
        WheelCache first = cache(direct);
        first.prepare(alphaSha, () -> alpha, name(alpha));
        useAndPublish(cache(direct), alphaSha, alpha);
        Object ino = Files.getAttribute(first.entryDir(alphaSha).resolve("index"), "unix:ino");
        assertEquals(1, pendingDirs().size());

        useAndPublish(first, alphaSha, alpha); // its own pending unpack, now durable: the entry is there already
        assertEquals(List.of(), pendingDirs(), "the second copy is removed, not left under .tmp");
        assertEquals(ino, Files.getAttribute(first.entryDir(alphaSha).resolve("index"), "unix:ino"),
                "the entry in place is left as it was");
    }

    @Test
    void aHalfEntryWithoutIndexIsReplacedByTheNewUnpack() throws Exception {
        Path half = Files.createDirectories(cache(direct).entryDir(alphaSha).resolve("files/alpha"));
        Files.writeString(half.resolve("stale.py"), "half = ");
        WheelCache c = cache(direct);
        assertNull(c.lookup(alphaSha), "an entry without index is no entry");
        assertEquals(0, c.totalBytes(), "and holds no bytes the cache counts");
        useAndPublish(c, alphaSha, alpha);
        assertEquals(Files.size(c.entryDir(alphaSha).resolve("files/alpha/__init__.py"))
                + Files.size(c.entryDir(alphaSha).resolve("files/alpha-1.0.dist-info/METADATA"))
                + Files.size(c.entryDir(alphaSha).resolve("files/alpha-1.0.dist-info/WHEEL")), c.totalBytes());
        assertTrue(Files.isRegularFile(c.entryDir(alphaSha).resolve("index")));
        assertFalse(Files.exists(c.entryDir(alphaSha).resolve("files/alpha/stale.py")));
        assertEquals("alpha", cache(direct).lookup(alphaSha).name());
    }

    @Test
    void anUnpackThatCannotMoveIntoPlaceIsRemovedAndLeftForTheNextBuild() throws Exception {
        WheelCache c = cache(direct);
        Path prefix = c.entryDir(alphaSha).getParent();
        Files.createDirectories(prefix.getParent());
        // something in the way of the prefix directory (a dangling link): the entry cannot be moved into place
        Files.createSymbolicLink(prefix, tmp.resolve("nowhere"));
        WheelIndex index = useAndPublish(c, alphaSha, alpha);
        assertEquals("alpha", index.name());
        assertEquals(List.of(), pendingDirs(), "nothing of the unpack that could not move stays behind");
        assertNull(c.lookup(alphaSha));
    }

    @Test
    void anUnpackWhoseIndexCannotBeWrittenFailsAndLeavesNothing() throws Exception {
        WheelCache c = cache(held);
        WheelCache.Use u = c.obtain(alphaSha, () -> alpha, name(alpha));
        queued.remove(0).run(); // opened: the work directory and its files/ exist, the files are queued
        Path work = pendingDirs().get(0);
        Files.createDirectory(work.resolve("index")); // where the index must go, something else is
        runQueued();
        IOException e = assertThrows(IOException.class, u::await);
        assertTrue(e.getMessage().contains("index"), e.getMessage());
        assertEquals(List.of(), pendingDirs());
        assertEquals(1, c.unpacks(), "the failed unpack is forgotten");
    }

    /** A wheel whose RECORD lists {@code zeta/data.txt} with a SHA-512 hash of {@code listed}, shipping {@code shipped}. */
    private Path sha512Wheel(Path dir, String listed, String shipped) throws Exception {
        byte[] content = shipped.getBytes(StandardCharsets.UTF_8);
        String hash = "sha512=" + Base64.getUrlEncoder().withoutPadding().encodeToString(
                MessageDigest.getInstance("SHA-512").digest(listed.getBytes(StandardCharsets.UTF_8)));
        return TestWheels.wheel("zeta", "1.0").file("zeta/__init__.py", "")
                .packed(ZipBuilder.pack(new ZipBuilder.Item("zeta/data.txt", content, 0100644, true), content.length), hash)
                .build(Files.createDirectories(dir));
    }

    @Test
    void aFileRecordListsWithAnotherAlgorithmIsCheckedWithThatAlgorithm() throws Exception {
        WheelCache c = cache(direct);
        Path good = sha512Wheel(inputs.resolve("good"), "Z = 26\n", "Z = 26\n");
        WheelIndex index = c.obtain("ab".repeat(32), () -> good, name(good)).await();
        assertEquals("Z = 26\n", Files.readString(index.file("zeta/data.txt")));
        Path bad = sha512Wheel(inputs.resolve("bad"), "Z = 26\n", "Z = 27\n"); // same size: only the hash tells
        InstallException e = assertThrows(InstallException.class,
                c.obtain("cd".repeat(32), () -> bad, name(bad))::await);
        assertEquals(0, Descriptors.openOn(bad), "a refused unpack closed the wheel file too");
        assertTrue(e.getMessage().startsWith(name(bad) + ": entry 'zeta/data.txt': content does not match its RECORD hash "
                + "(sha512="), e.getMessage());
    }

    @Test
    void recoverRefusesToRunWhileUnpacksArePendingAndOtherwiseClearsLeftovers() throws Exception {
        WheelCache c = cache(held);
        c.recover(); // nothing there yet: nothing to do
        c.prepare(alphaSha, () -> alpha, name(alpha));
        assertThrows(IllegalStateException.class, c::recover);
        c.discardIdle();
        runQueued();
        Files.createDirectories(root.resolve("wheels/.tmp/" + "ee".repeat(32) + "-x/files"));
        c.recover();
        assertEquals(List.of(), pendingDirs());
    }

    @Test
    void twoBuildsOfOneWheelShareOneUnpackAndItMovesWhenTheLastGivesItBack() throws Exception {
        WheelCache c = cache(held);
        WheelCache.Use one = c.obtain(alphaSha, () -> alpha, name(alpha));
        WheelCache.Use two = c.obtain(alphaSha, () -> alpha, name(alpha));
        assertSame(one.index, two.index);
        runQueued();
        c.release(List.of(one), true);
        assertNull(c.lookup(alphaSha), "the other build still holds it");
        c.release(List.of(two), true);
        assertNotNull(c.lookup(alphaSha));
        assertEquals(1, c.unpacks());
    }
}

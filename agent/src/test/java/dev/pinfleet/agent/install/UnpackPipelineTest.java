package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.wheel.testing.WheelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unpacking that starts as soon as a wheel is in the store ({@link ReleaseBuilder#prepare}), large wheels split
 * among threads, and cache entries that appear under their sha256 only once a release using them is on disk.
 */
class UnpackPipelineTest {
    @TempDir Path tmp;
    InstallFixture fx;

    @BeforeEach
    void setUp() throws Exception {
        fx = new InstallFixture(tmp);
    }

    private Path entry(Artifact a) {
        return fx.cache.resolve("wheels/" + a.getSha256().substring(0, 2) + "/" + a.getSha256());
    }

    private List<Path> pendingUnpacks() throws Exception {
        return InstallFixture.unpackDirs(fx.cache);
    }

    /** Waits (at most 30 s) until the background unpack of a prepared wheel has written its index. */
    private Path awaitPrepared() throws Exception {
        for (int i = 0; i < 3000; i++) {
            List<Path> p = pendingUnpacks();
            if (p.size() == 1 && Files.exists(p.get(0).resolve("index"))) {
                return p.get(0);
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the prepared wheel was not unpacked within 30 s: " + pendingUnpacks());
    }

    @Test
    void aPreparedWheelIsUnpackedOnceAndEntersTheCacheOnlyWithAFlushedRelease() throws Exception {
        Artifact a = fx.wheel(TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "X = 1\n"));
        fx.builder.prepare(a, fx.store.get(a.getSha256()));
        Path work = awaitPrepared();
        Object ino = Files.getAttribute(work.resolve("files/alpha/__init__.py"), "unix:ino");
        assertFalse(Files.exists(entry(a)), "not under its sha256 before a release using it was flushed");

        fx.builder.prepare(a, fx.store.get(a.getSha256())); // twice: still one unpack
        Path release = fx.build("r1", fx.manifest(a));
        assertEquals(List.of(), pendingUnpacks());
        assertTrue(Files.isRegularFile(entry(a).resolve("index")));
        assertEquals(ino, Files.getAttribute(entry(a).resolve("files/alpha/__init__.py"), "unix:ino"),
                "the build used the prepared unpack, which then moved into place");
        assertEquals(ino, Files.getAttribute(release.resolve(fx.python.sitePackagesRelative() + "/alpha/__init__.py"),
                "unix:ino"));
    }

    @Test
    void aPreparedWheelThatCannotBeUnpackedFailsTheBuildThatUsesItWithTheSameMessage() throws Exception {
        Artifact a = fx.wheel(TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "X = 1\n")
                .tamper("alpha/__init__.py", "X = 2\n")); // same size: found while unpacking
        fx.builder.prepare(a, fx.store.get(a.getSha256()));
        String m = fx.fails(fx.manifest(a)).getMessage();
        assertTrue(m.startsWith(a.getFilename() + ": entry 'alpha/__init__.py': content does not match its RECORD hash"), m);
        assertFalse(Files.exists(entry(a)));
        assertEquals(List.of(), pendingUnpacks(), "nothing of the failed unpack is left");
    }

    @Test
    void aLargeWheelSplitAmongThreadsArrivesWhole() throws Exception {
        WheelBuilder w = TestWheels.wheel("big", "1.0").file("big/__init__.py", "");
        // two chunks, one per thread of the builder; more would only make the test slower (the mutation run pays
        // for every file once per mutant), not test more
        int files = WheelUnpack.CHUNK_FILES + 17;
        for (int i = 0; i < files; i++) {
            w.file("big/d" + (i % 7) + "/f" + i + ".txt", "file " + i + "\n" + "x".repeat(i % 300));
        }
        Artifact a = fx.wheel(w);
        Path release = fx.build("r1", fx.manifest(a));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        for (int i = 0; i < files; i++) {
            assertArrayEquals(("file " + i + "\n" + "x".repeat(i % 300)).getBytes(StandardCharsets.UTF_8),
                    Files.readAllBytes(site.resolve("big/d" + (i % 7) + "/f" + i + ".txt")), "file " + i);
        }
        List<String> record = Files.readAllLines(site.resolve("big-1.0.dist-info/RECORD"));
        assertEquals(files + 1 + 3 + 1, record.size(), "every file, __init__, METADATA, WHEEL, INSTALLER, RECORD");
    }

    @Test
    void recoverRemovesUnpacksACrashInterrupted() throws Exception {
        Path leftover = Files.createDirectories(fx.cache.resolve("wheels/.tmp/" + "ab".repeat(32) + "-x/files/pkg"));
        Files.writeString(leftover.resolve("half.py"), "x = ");
        fx.builder.recover();
        assertEquals(List.of(), pendingUnpacks());
    }
}

package dev.pinfleet.agent.install;

import static dev.pinfleet.testing.Messages.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.archive.ArchiveLimits;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.wheel.testing.WheelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every refusal names the artifact file, the entry (where there is one) and why. The wheel rules themselves are
 * proto's ({@code WheelArchiveTest}, {@code ZipArchiveTest}); here they are seen through a real install.
 */
class WheelChecksTest {
    @TempDir
    Path tmp;
    InstallFixture fx;

    @BeforeEach
    void setUp() throws Exception {
        fx = new InstallFixture(tmp);
    }

    private static WheelBuilder good() {
        return TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "X = 1\n");
    }

    private String refusal(WheelBuilder w) throws Exception {
        String message = fx.fails(fx.manifest(fx.wheel(w))).getMessage();
        assertTrue(message.startsWith(w.filename() + ": "), message);
        return message;
    }


    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void zipSlipEntryIsRefused() throws Exception {
        assertContains(refusal(good().rawEntry("alpha/../../evil.py", bytes("x"), 0100644)), "alpha/../../evil.py", "'..'");
        assertFalse(Files.exists(tmp.resolve("evil.py")));
    }

    @Test
    void absolutePathEntryIsRefused() throws Exception {
        assertContains(refusal(good().rawEntry("/tmp/evil.py", bytes("x"), 0100644)), "/tmp/evil.py", "absolute");
    }

    @Test
    void backslashEntryIsRefused() throws Exception {
        assertContains(refusal(good().rawEntry("alpha\\..\\evil.py", bytes("x"), 0100644)), "backslash");
    }

    @Test
    void nulInEntryNameIsRefused() throws Exception {
        assertContains(refusal(good().rawEntry("alpha/a\0b.py", bytes("x"), 0100644)), "NUL");
    }

    @Test
    void symlinkEntryIsRefused() throws Exception {
        assertContains(refusal(good().rawEntry("alpha/passwd", bytes("/etc/passwd"), 0120777)), "alpha/passwd", "symbolic link");
    }

    @Test
    void duplicateEntryIsRefused() throws Exception {
        assertContains(refusal(good().rawEntry("alpha/__init__.py", bytes("Y = 2\n"), 0100644)), "alpha/__init__.py", "twice");
    }

    @Test
    void metadataNameThatDiffersFromTheFileNameIsRefused() throws Exception {
        assertContains(refusal(good().metadataName("notalpha")), "alpha-1.0.dist-info/METADATA", "notalpha",
                "file name is for alpha 1.0");
        assertNothingUnpackedLeft();
    }

    @Test
    void metadataVersionThatDiffersIsRefused() throws Exception {
        assertContains(refusal(good().metadataVersion("6.6.6")), "METADATA", "6.6.6", "file name is for alpha 1.0");
        assertNothingUnpackedLeft();
    }

    /** A wheel refused while it is opened leaves nothing in the cache, not even in its temporary directory. */
    private void assertNothingUnpackedLeft() throws Exception {
        Path wheels = fx.cache.resolve("wheels");
        if (Files.isDirectory(wheels)) {
            try (java.util.stream.Stream<Path> s = Files.walk(wheels)) {
                List<Path> left = s.filter(p -> !p.equals(wheels) && !p.equals(wheels.resolve(".tmp"))).toList();
                assertEquals(List.of(), left, "the refused wheel left unpacked files in the cache");
            }
        }
    }

    @Test
    void fileNameNotForThePinnedDistributionIsRefused() throws Exception {
        Path file = good().build(fx.inputs);
        Artifact a = TestWheels.artifact(file, ArtifactKind.WHEEL, "beta", "1.0", "");
        String m = fx.fails(fx.manifest(fx.add(a, file))).getMessage();
        assertContains(m, "alpha-1.0-py3-none-any.whl", "not for beta 1.0");
    }

    @Test
    void incompatibleTagsAreRefused() throws Exception {
        for (String tag : List.of("cp27-cp27mu-manylinux1_x86_64", "py3-none-win_amd64",
                "cp311-cp311-musllinux_1_2_x86_64", "cp399-cp399-manylinux_2_17_x86_64", "py2-none-any")) {
            assertContains(refusal(good().tag(tag)), tag, "do not suit the target interpreter");
        }
    }

    @Test
    void recordHashMismatchIsRefused() throws Exception {
        // same size as the original: only the hash can tell (another size is refused from the central directory)
        assertContains(refusal(good().tamper("alpha/__init__.py", "X = 2\n")), "alpha/__init__.py", "RECORD hash");
        fx = new InstallFixture(tmp.resolve("resized"));
        assertContains(refusal(good().tamper("alpha/__init__.py", "import os\n")), "alpha/__init__.py",
                "has 10 bytes, alpha-1.0.dist-info/RECORD says 6");
    }

    @Test
    void entryPointNameWithSlashOrDotDotIsRefused() throws Exception {
        assertContains(refusal(good().consoleScript("../../evil", "alpha:main")), "entry_points.txt", "../../evil");
        assertNothingUnpackedLeft();
        fx = new InstallFixture(tmp.resolve("again"));
        assertContains(refusal(good().consoleScript("a..b", "alpha:main")), "entry point name", "'..'");
        fx = new InstallFixture(tmp.resolve("gui"));
        assertContains(refusal(good().guiScript("a/b", "alpha:main")), "entry point name 'a/b'", "path separator");
        assertNothingUnpackedLeft();
    }

    @Test
    void entryPointTargetThatIsNotModuleAttrIsRefused() throws Exception {
        assertContains(refusal(good().consoleScript("ok", "alpha:main; import os")), "ok", "not module:attr");
    }

    @Test
    void highlyCompressedEntryIsRefusedAsAZipBomb() throws Exception {
        assertContains(refusal(good().file("alpha/zeros.bin", new byte[20 << 20], 0100644)), "alpha/zeros.bin", "compression ratio");
    }

    @Test
    void entryInflatingBeyondItsDeclaredSizeIsRefused() throws Exception {
        assertContains(refusal(good().file("alpha/data.txt", bytes("0123456789".repeat(100)), 0100644)
                .declareSize("alpha/data.txt", 10)), "alpha/data.txt", "declared size");
    }

    @Test
    void tarDirectoryOrLinkDeclaringDataIsRefused() throws Exception {
        assertContains(archiveRefusal(List.of(new TarItem("d/", '5', 0755, new byte[4096], ""))), "'d/'",
                "directory entry declares 4096 bytes of data");
        assertContains(archiveRefusal(List.of(new TarItem("l", '2', 0777, new byte[512], "x"))), "'l'",
                "link entry declares 512 bytes of data");
    }

    @Test
    void tarExtendedHeadersCountAgainstTheBombGuard() throws Exception {
        // 24 pax headers of one valid 1 MiB record each: no file to extract, but 24 MiB inflated from a few KiB
        String value = "a".repeat((1 << 20) - 32);
        String body = " comment=" + value + "\n";
        int len = body.length() + 7; // seven digits of length
        byte[] record = (len + body).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        List<TarItem> items = new java.util.ArrayList<>();
        for (int i = 0; i < 24; i++) {
            items.add(new TarItem("PaxHeaders/" + i, 'x', 0644, record, ""));
        }
        items.add(TarItem.file("app.txt", "x"));
        assertContains(archiveRefusal(items), "the tar stream's compression ratio", "exceeds the limit of " + ArchiveLimits.MAX_RATIO,
                "archive bomb guard");
        // a pax header that is not pax records at all is refused at its first byte
        assertContains(archiveRefusal(List.of(new TarItem("PaxHeaders/0", 'x', 0644, new byte[1 << 20], ""),
                TarItem.file("app.txt", "x"))), "not a readable tar.gz archive", "Paxheader");
    }

    @Test
    void tarEntryBelowAFileIsRefusedByName() throws Exception {
        assertContains(archiveRefusal(List.of(TarItem.file("f", "x"), TarItem.file("f/g", "y"))), "'f/g'",
                "lies below 'f', which is a file");
        assertContains(archiveRefusal(List.of(TarItem.file("d/x", "x"), TarItem.file("d", "y"))), "'d'",
                "is a file, but earlier entries lie below it");
    }

    @Test
    void wheelWritingOverTheInterpreterIsRefused() throws Exception {
        assertContains(refusal(good().file("alpha-1.0.data/scripts/python", "#!/bin/sh\n")), "bin/python", "virtualenv's own");
    }

    @Test
    void aLauncherOrDataFileOverTheVirtualenvsOwnPathsIsRefused() throws Exception {
        assertContains(refusal(good().consoleScript("python", "alpha:main")), "entry_points.txt",
                "would overwrite the virtualenv's own 'bin/python'");
        fx = new InstallFixture(tmp.resolve("activate"));
        assertContains(refusal(good().guiScript("activate", "alpha:main")), "would overwrite the virtualenv's own 'bin/activate'");
        fx = new InstallFixture(tmp.resolve("lib64"));
        assertContains(refusal(good().file("alpha-1.0.data/data/lib64/evil.py", "x")), "alpha-1.0.data/data/lib64/evil.py",
                "would overwrite the virtualenv's own 'lib64/evil.py'");
        fx = new InstallFixture(tmp.resolve("marker"));
        assertContains(refusal(good().file("alpha-1.0.data/data/.pinfleet/release.json", "{}")),
                "would overwrite the virtualenv's own '.pinfleet/release.json'");
    }

    @Test
    void aWheelNeedingOneOfItsOwnFilesAsADirectoryIsRefused() throws Exception {
        String m = refusal(good().file("alpha/data", "a module file without extension\n")
                .file("alpha-1.0.data/purelib/alpha/data/inner.py", "x = 1\n"));
        String site = fx.python.sitePackagesRelative();
        assertEquals("alpha-1.0-py3-none-any.whl: needs '" + site + "/alpha/data' as a directory, but it is a file of "
                + "alpha-1.0-py3-none-any.whl", m);
    }

    @Test
    void unknownDataDirectoryIsRefused() throws Exception {
        assertContains(refusal(good().file("alpha-1.0.data/etc/x.conf", "x")), "alpha-1.0.data/etc/x.conf", "unknown .data");
    }

    @Test
    void manifestForAnotherPythonIsRefused() throws Exception {
        Manifest m = fx.manifest(fx.wheel(good())).toBuilder().setPython("2.7").build();
        assertContains(fx.fails(m).getMessage(), "python 2.7");
    }

    @Test
    void archiveWithDotDotEntryIsRefused() throws Exception {
        String m = archiveRefusal(List.of(TarItem.file("app/ok.txt", "ok"), TarItem.file("app/../../evil.txt", "x")));
        assertContains(m, "app/../../evil.txt", "'..'");
    }

    @Test
    void archiveSymlinkEscapingTheInstallPathIsRefused() throws Exception {
        assertContains(archiveRefusal(List.of(TarItem.symlink("up", "../../../etc"))), "up", "leaves the install_path");
        assertContains(archiveRefusal(List.of(TarItem.symlink("abs", "/etc/passwd"))), "abs", "absolute");
        assertContains(archiveRefusal(List.of(TarItem.dir("a/"), TarItem.dir("a/b/"), TarItem.symlink("a/b/l", ".."),
                TarItem.symlink("a/c", "b/l/.."))), "passes through another symbolic link");
    }

    @Test
    void archiveHardLinkAndEntryBelowSymlinkAreRefused() throws Exception {
        assertContains(archiveRefusal(List.of(TarItem.file("f", "x"), new TarItem("h", '1', 0644, new byte[0], "f"))),
                "'h'", "hard link");
        assertContains(archiveRefusal(List.of(TarItem.symlink("l", "sub"), TarItem.file("l/x", "x"))), "below the symbolic link");
    }

    private int archives;

    private String archiveRefusal(List<TarItem> items) throws Exception {
        Path tgz = TestWheels.tarGz(fx.inputs.resolve("app-" + (++archives) + ".tar.gz"), items);
        Artifact a = fx.add(TestWheels.artifact(tgz, ArtifactKind.ARCHIVE, "app", "1", "app"), tgz);
        String m = fx.fails(fx.manifest(a)).getMessage();
        assertTrue(m.startsWith(tgz.getFileName() + ": "), m);
        return m;
    }
}

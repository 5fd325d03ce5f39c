package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every refusal names the artifact file, the entry (where there is one) and why. */
class WheelChecksTest {
    @TempDir
    Path tmp;
    InstallFixture fx;

    @BeforeEach
    void setUp() throws Exception {
        fx = new InstallFixture(tmp);
    }

    private static TestWheels.Wheel good() {
        return TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "X = 1\n");
    }

    private String refusal(TestWheels.Wheel w) throws Exception {
        String message = fx.fails(fx.manifest(fx.wheel(w))).getMessage();
        assertTrue(message.startsWith(w.filename() + ": "), message);
        return message;
    }

    private static void contains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + message + "' should contain '" + p + "'");
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void zipSlipEntryIsRefused() throws Exception {
        contains(refusal(good().rawEntry("alpha/../../evil.py", bytes("x"), 0100644)), "alpha/../../evil.py", "'..'");
        assertFalse(Files.exists(tmp.resolve("evil.py")));
    }

    @Test
    void absolutePathEntryIsRefused() throws Exception {
        contains(refusal(good().rawEntry("/tmp/evil.py", bytes("x"), 0100644)), "/tmp/evil.py", "absolute");
    }

    @Test
    void backslashEntryIsRefused() throws Exception {
        contains(refusal(good().rawEntry("alpha\\..\\evil.py", bytes("x"), 0100644)), "backslash");
    }

    @Test
    void nulInEntryNameIsRefused() throws Exception {
        contains(refusal(good().rawEntry("alpha/a\0b.py", bytes("x"), 0100644)), "NUL");
    }

    @Test
    void symlinkEntryIsRefused() throws Exception {
        contains(refusal(good().rawEntry("alpha/passwd", bytes("/etc/passwd"), 0120777)), "alpha/passwd", "symbolic link");
    }

    @Test
    void duplicateEntryIsRefused() throws Exception {
        contains(refusal(good().rawEntry("alpha/__init__.py", bytes("Y = 2\n"), 0100644)), "alpha/__init__.py", "twice");
    }

    @Test
    void metadataNameThatDiffersFromTheFileNameIsRefused() throws Exception {
        contains(refusal(good().metadataName("notalpha")), "alpha-1.0.dist-info/METADATA", "notalpha", "pins alpha 1.0");
    }

    @Test
    void metadataVersionThatDiffersIsRefused() throws Exception {
        contains(refusal(good().metadataVersion("6.6.6")), "METADATA", "6.6.6", "pins alpha 1.0");
    }

    @Test
    void fileNameNotForThePinnedDistributionIsRefused() throws Exception {
        Path file = good().build(fx.inputs);
        Artifact a = TestWheels.artifact(file, ArtifactKind.WHEEL, "beta", "1.0", "");
        String m = fx.fails(fx.manifest(fx.add(a, file))).getMessage();
        contains(m, "alpha-1.0-py3-none-any.whl", "not for beta 1.0");
    }

    @Test
    void incompatibleTagsAreRefused() throws Exception {
        for (String tag : List.of("cp27-cp27mu-manylinux1_x86_64", "py3-none-win_amd64",
                "cp311-cp311-musllinux_1_2_x86_64", "cp399-cp399-manylinux_2_17_x86_64", "py2-none-any")) {
            contains(refusal(good().tag(tag)), tag, "do not suit the target interpreter");
        }
    }

    @Test
    void recordHashMismatchIsRefused() throws Exception {
        contains(refusal(good().tamper("alpha/__init__.py", "import os\n")), "alpha/__init__.py", "RECORD hash");
    }

    @Test
    void entryPointNameWithSlashOrDotDotIsRefused() throws Exception {
        contains(refusal(good().consoleScript("../../evil", "alpha:main")), "entry_points.txt", "../../evil");
        fx = new InstallFixture(tmp.resolve("again"));
        contains(refusal(good().consoleScript("a..b", "alpha:main")), "entry point name", "'..'");
    }

    @Test
    void entryPointTargetThatIsNotModuleAttrIsRefused() throws Exception {
        contains(refusal(good().consoleScript("ok", "alpha:main; import os")), "ok", "not module:attr");
    }

    @Test
    void highlyCompressedEntryIsRefusedAsAZipBomb() throws Exception {
        contains(refusal(good().file("alpha/zeros.bin", new byte[20 << 20], 0100644)), "alpha/zeros.bin", "compression ratio");
    }

    @Test
    void entryInflatingBeyondItsDeclaredSizeIsRefused() throws Exception {
        contains(refusal(good().file("alpha/data.txt", bytes("0123456789".repeat(100)), 0100644)
                .declareSize("alpha/data.txt", 10)), "alpha/data.txt", "declared size");
    }

    @Test
    void wheelWritingOverTheInterpreterIsRefused() throws Exception {
        contains(refusal(good().file("alpha-1.0.data/scripts/python", "#!/bin/sh\n")), "bin/python", "virtualenv's own");
    }

    @Test
    void unknownDataDirectoryIsRefused() throws Exception {
        contains(refusal(good().file("alpha-1.0.data/etc/x.conf", "x")), "alpha-1.0.data/etc/x.conf", "unknown .data");
    }

    @Test
    void manifestForAnotherPythonIsRefused() throws Exception {
        Manifest m = fx.manifest(fx.wheel(good())).toBuilder().setPython("2.7").build();
        contains(fx.fails(m).getMessage(), "python 2.7");
    }

    @Test
    void archiveWithDotDotEntryIsRefused() throws Exception {
        String m = archiveRefusal(List.of(TarItem.file("app/ok.txt", "ok"), TarItem.file("app/../../evil.txt", "x")));
        contains(m, "app/../../evil.txt", "'..'");
    }

    @Test
    void archiveSymlinkEscapingTheInstallPathIsRefused() throws Exception {
        contains(archiveRefusal(List.of(TarItem.symlink("up", "../../../etc"))), "up", "leaves the install_path");
        contains(archiveRefusal(List.of(TarItem.symlink("abs", "/etc/passwd"))), "abs", "absolute");
        contains(archiveRefusal(List.of(TarItem.dir("a/"), TarItem.dir("a/b/"), TarItem.symlink("a/b/l", ".."),
                TarItem.symlink("a/c", "b/l/.."))), "passes through another symbolic link");
    }

    @Test
    void archiveHardLinkAndEntryBelowSymlinkAreRefused() throws Exception {
        contains(archiveRefusal(List.of(TarItem.file("f", "x"), new TarItem("h", '1', 0644, new byte[0], "f"))),
                "'h'", "hard link");
        contains(archiveRefusal(List.of(TarItem.symlink("l", "sub"), TarItem.file("l/x", "x"))), "below the symbolic link");
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

package dev.pinfleet.wheel;

import static dev.pinfleet.testing.Messages.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.archive.ArchiveLimits;
import dev.pinfleet.archive.ZipArchive;
import dev.pinfleet.testing.Descriptors;
import dev.pinfleet.wheel.testing.WheelBuilder;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one definition of a valid wheel (agent, mirror publisher, upload, import-venv, freeze). The three hostile
 * wheels of the threat model are refused by {@link WheelArchive#open}, before any of their files is inflated.
 */
class WheelArchiveTest {
    @TempDir
    Path tmp;

    private static WheelBuilder alpha() {
        return new WheelBuilder("alpha", "1.0").file("alpha/__init__.py", "X = 1\n");
    }

    private ArchiveException refusal(WheelBuilder w) throws Exception {
        Path file = w.build(tmp);
        ArchiveException e = assertThrows(ArchiveException.class,
                () -> WheelArchive.open(file, file.getFileName().toString()).close());
        assertTrue(e.getMessage().startsWith(w.filename() + ": "), e.getMessage());
        assertEquals(0, Descriptors.openOn(file), "a refused wheel leaves no file open");
        return e;
    }



    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void symbolicLinkEntryIsRefusedFromTheCentralDirectory() throws Exception {
        // listed in RECORD with its right hash: only the mode tells it is a link
        ArchiveException e = refusal(alpha().file("alpha/passwd", bytes("/etc/passwd"), 0120777));
        assertContains(e.getMessage(), "entry 'alpha/passwd': symbolic link entries are not allowed");
        assertEquals(0, e.inflatedBytes());
    }

    @Test
    void consoleScriptNamedByAPathIsRefused() throws Exception {
        ArchiveException e = refusal(alpha().consoleScript("../../x", "alpha:main"));
        assertContains(e.getMessage(), "entry 'alpha-1.0.dist-info/entry_points.txt': entry point name '../../x' refused",
                "path separator");
        e = refusal(new WheelBuilder("beta", "1.0").guiScript("a..b", "beta:main"));
        assertContains(e.getMessage(), "entry point name 'a..b'", "'..'");
        assertContains(refusal(alpha().consoleScript("", "alpha:main")).getMessage(),
                "entry 'alpha-1.0.dist-info/entry_points.txt': line '= alpha:main' in [console_scripts] is not name = module:attr");
        assertContains(refusal(alpha().consoleScript("hello", "alpha")).getMessage(),
                "entry point 'hello' target 'alpha' is not module:attr");
    }

    @Test
    void bombWithItsCorrectRecordHashIsRefusedBeforeAnythingIsInflated() throws Exception {
        ArchiveException e = refusal(alpha().packed(ZipBuilder.twoGibOfZeros("alpha/zeros.bin"),
                ZipBuilder.TWO_GIB_OF_ZEROS_SHA256));
        assertContains(e.getMessage(), "entry 'alpha/zeros.bin': compression ratio 1028:1",
                "exceeds the limit of " + ArchiveLimits.MAX_RATIO + ":1");
        assertEquals(0, e.inflatedBytes(), "not a byte of the wheel may be inflated before the bomb is refused");
    }

    @Test
    void aValidWheelOpensAndItsContentsMatchRecord() throws Exception {
        Path file = alpha().requires("idna>=2").consoleScript("alpha-hello", "alpha.cli:main")
                .file("alpha-1.0.data/scripts/tool", "#!python\nprint(1)\n")
                .file("alpha-1.0.data/headers/alpha.h", "int x;\n").file("alpha-1.0.data/data/share/a.txt", "a")
                .build(tmp);
        try (WheelArchive w = WheelArchive.open(file, file.getFileName().toString())) {
            assertEquals("alpha", w.metadata().name());
            assertEquals(List.of("idna>=2"), w.metadata().requiresDist());
            assertEquals("alpha-1.0.dist-info", w.distInfo());
            assertTrue(w.purelib());
            assertEquals(List.of(new EntryPoints.Script("alpha-hello", "alpha.cli", "main")), w.scripts());
            assertEquals(0, w.zip().inflatedBytes() - metadataBytes(w), "open inflates the metadata files only");
            w.verifyContents();
            assertEquals(List.of(
                    "lib/python3.11/site-packages/alpha/__init__.py",
                    "bin/tool",
                    "include/site/python3.11/alpha/alpha.h",
                    "share/a.txt",
                    "lib/python3.11/site-packages/alpha-1.0.dist-info/METADATA",
                    "lib/python3.11/site-packages/alpha-1.0.dist-info/WHEEL",
                    "lib/python3.11/site-packages/alpha-1.0.dist-info/entry_points.txt",
                    "bin/alpha-hello",
                    "lib/python3.11/site-packages/alpha-1.0.dist-info/INSTALLER",
                    "lib/python3.11/site-packages/alpha-1.0.dist-info/RECORD"),
                    w.installPaths(InstallScheme.virtualenv("3.11")));
            List<WheelArchive.InstalledFile> files = w.installedFiles(InstallScheme.virtualenv("3.11"));
            String initHash = "sha256=" + b64(bytes("X = 1\n"), "SHA-256");
            assertEquals(new WheelArchive.InstalledFile("lib/python3.11/site-packages/alpha/__init__.py", initHash, 6,
                    new PathOwners.Identity("file", initHash, false)), files.get(0));
            assertTrue(files.get(1).identity().executable(), "a .data script is installed executable");
            assertEquals(new PathOwners.Identity("launcher", "alpha.cli:main", true), files.get(7).identity());
            assertEquals(new PathOwners.Identity("metadata", "alpha-1.0.dist-info", false), files.get(9).identity());
        }
    }

    /** The sizes of WHEEL, METADATA, entry_points.txt and RECORD: what {@link WheelArchive#open} reads. */
    private static long metadataBytes(WheelArchive w) {
        long sum = 0;
        for (ZipArchive.Entry e : w.zip().entries()) {
            if (e.name().startsWith(w.distInfo() + "/") && List.of("WHEEL", "METADATA", "entry_points.txt", "RECORD")
                    .contains(e.name().substring(w.distInfo().length() + 1))) {
                sum += e.size();
            }
        }
        return sum;
    }

    @Test
    void installPathsNeedNothingInflatedBeyondMetadata() throws Exception {
        // a platlib wheel: the root goes to platlib, which a scheme may keep apart from purelib
        Path file = alpha().purelib(false).build(tmp);
        try (WheelArchive w = WheelArchive.open(file, file.getFileName().toString())) {
            assertFalse(w.purelib());
            long before = w.zip().inflatedBytes();
            List<String> paths = w.installPaths(new InstallScheme("pure", "plat", "bin", "inc", "data"));
            assertEquals(before, w.zip().inflatedBytes());
            assertEquals("plat/alpha/__init__.py", paths.get(0));
            assertEquals("plat/alpha-1.0.dist-info/RECORD", paths.get(paths.size() - 1));
        }
    }

    @Test
    void identityIsTheFileNames() throws Exception {
        assertContains(refusal(alpha().metadataName("notalpha")).getMessage(),
                "entry 'alpha-1.0.dist-info/METADATA': names notalpha 1.0, but the file name is for alpha 1.0");
        assertContains(refusal(alpha().metadataVersion("6.6.6")).getMessage(), "names alpha 6.6.6");
        Path renamed = alpha().filename("beta-1.0-py3-none-any.whl").build(tmp);
        ArchiveException e = assertThrows(ArchiveException.class,
                () -> WheelArchive.open(renamed, "beta-1.0-py3-none-any.whl").close());
        assertContains(e.getMessage(), "entry 'alpha-1.0.dist-info': does not belong to distribution beta");
        // PEP 440 versions compare case-insensitively: a file name may normalize the METADATA spelling
        Path rc = new WheelBuilder("gamma", "1.0rc1").metadataVersion("1.0RC1").build(tmp);
        WheelArchive.open(rc, rc.getFileName().toString()).close();
    }

    @Test
    void everyFileIsListedInRecordWithAnAcceptedHashAndItsSize() throws Exception {
        assertContains(refusal(alpha().rawEntry("alpha/extra.py", bytes("x = 2\n"), 0100644)).getMessage(),
                "entry 'alpha/extra.py': is not listed with a hash in alpha-1.0.dist-info/RECORD");
        byte[] m = bytes("m = 1\n");
        ZipBuilder.Packed extra = ZipBuilder.pack(new ZipBuilder.Item("alpha/m.py", m, 0100644, true), m.length);
        assertContains(refusal(alpha().packed(extra, "md5=" + b64(m, "MD5"))).getMessage(),
                "entry 'alpha-1.0.dist-info/RECORD': RECORD hash algorithm 'md5' is not accepted (for alpha/m.py)");
        assertContains(refusal(alpha().packed(extra, "sha256=" + b64(m, "SHA-256"), "7")).getMessage(),
                "entry 'alpha/m.py': has 6 bytes, alpha-1.0.dist-info/RECORD says 7");

        Path sha512 = alpha().packed(extra, "sha512=" + b64(m, "SHA-512")).build(Files.createDirectories(tmp.resolve("ok")));
        try (WheelArchive w = WheelArchive.open(sha512, sha512.getFileName().toString())) {
            w.verifyContents();
            // the agent hashes with SHA-256 anyway and asks for a second digest only for another algorithm
            ZipArchive.Entry m1 = w.payload().stream().filter(x -> x.name().equals("alpha/m.py")).findFirst().orElseThrow();
            assertEquals("SHA-512", w.otherDigest(m1).getAlgorithm());
            assertNull(w.otherDigest(w.payload().get(0)), "alpha/__init__.py has a sha256 row");
        }
        Path wrong = alpha().packed(extra, "sha512=" + b64(bytes("m = 2\n"), "SHA-512")).build(Files.createDirectories(tmp.resolve("bad")));
        try (WheelArchive w = WheelArchive.open(wrong, wrong.getFileName().toString())) {
            ArchiveException e = assertThrows(ArchiveException.class, w::verifyContents);
            assertContains(e.getMessage(), "entry 'alpha/m.py': content does not match its RECORD hash (sha512=");
        }
    }

    @Test
    void contentOfAnotherSizeThanRecordSaysIsRefusedOnOpen() throws Exception {
        assertContains(refusal(alpha().tamper("alpha/__init__.py", "import os\n")).getMessage(),
                "entry 'alpha/__init__.py': has 10 bytes, alpha-1.0.dist-info/RECORD says 6");
    }

    @Test
    void tamperedContentIsFoundWhenInflated() throws Exception {
        Path file = alpha().tamper("alpha/__init__.py", "X = 2\n").build(tmp); // same size: only the hash tells
        try (WheelArchive w = WheelArchive.open(file, file.getFileName().toString())) {
            ArchiveException e = assertThrows(ArchiveException.class, w::verifyContents);
            // both hashes in full, the actual one with the declared one's algorithm prefix
            assertContains(e.getMessage(), "entry 'alpha/__init__.py': content does not match its RECORD hash (sha256="
                    + b64(bytes("X = 1\n"), "SHA-256") + ", actual sha256=" + b64(bytes("X = 2\n"), "SHA-256") + ")");
            assertTrue(e.inflatedBytes() > 0, "a hash is checked on inflated bytes");
        }
    }

    @Test
    void recordsSignaturesAreTheOnlyFilesRecordNeedNotList() throws Exception {
        String distInfo = "alpha-1.0.dist-info";
        Path file = alpha().rawEntry(distInfo + "/RECORD.jws", bytes("{}"), 0100644)
                .rawEntry(distInfo + "/RECORD.p7s", bytes("sig"), 0100644).build(tmp);
        try (WheelArchive w = WheelArchive.open(file, file.getFileName().toString())) {
            w.verifyContents();
            assertEquals(List.of("alpha/__init__.py", distInfo + "/METADATA", distInfo + "/WHEEL"),
                    w.payload().stream().map(ZipArchive.Entry::name).toList(), "signatures are not installed");
        }
        // names that only resemble a signature of the .dist-info directory are files like any other
        for (String lookalike : List.of("alpha/RECORD.jws", "alpha-1.0.dist-infx/RECORD.jws",
                "alpha-1.0.dist-infoXRECORD.jws", distInfo + "/sub/RECORD.jws", distInfo + "/RECORD.asc")) {
            Path dir = Files.createDirectories(tmp.resolve("lookalike" + lookalike.length() + lookalike.hashCode()));
            Path bad = alpha().rawEntry(lookalike, bytes("sig"), 0100644).build(dir);
            ArchiveException e = assertThrows(ArchiveException.class,
                    () -> WheelArchive.open(bad, bad.getFileName().toString()).close(), lookalike);
            assertContains(e.getMessage(), "entry '" + lookalike + "': is not listed with a hash in " + distInfo + "/RECORD");
        }
    }

    @Test
    void anEmptyDirectoryEntryNamedDistInfoCountsAsASecondDistInfo() throws Exception {
        assertContains(refusal(alpha().rawEntry("other-1.0.dist-info/", new byte[0], 040755)).getMessage(),
                "more than one .dist-info directory: [alpha-1.0.dist-info, other-1.0.dist-info]");
        // a top-level file whose name ends in .dist-info is no directory: listed in RECORD, it is payload
        Path file = alpha().file("notes.dist-info", "n").build(tmp);
        try (WheelArchive w = WheelArchive.open(file, file.getFileName().toString())) {
            assertEquals("alpha-1.0.dist-info", w.distInfo());
        }
    }

    @Test
    void withTheCallersScratchTheCallerKeepsItAndCloseReleasesTheFile() throws Exception {
        Path file = alpha().build(tmp);
        try (ZipArchive.Scratch scratch = new ZipArchive.Scratch()) {
            WheelArchive w = WheelArchive.open(file, file.getFileName().toString(), scratch);
            assertEquals(WheelFilename.parse(file.getFileName().toString()), w.fileName());
            assertThrows(IllegalStateException.class, w::verifyContents, "no buffers of its own to verify with");
            w.verifyContents(scratch);
            ZipArchive.Entry init = w.payload().get(0);
            assertEquals(1, Descriptors.openOn(file));
            w.close();
            assertEquals(0, Descriptors.openOn(file));
            assertThrows(ClosedChannelException.class, () -> w.zip().read(init, scratch),
                    "close releases the file");
            // the scratch is still the caller's to use: close did not end its inflater
            try (WheelArchive again = WheelArchive.open(file, file.getFileName().toString(), scratch)) {
                again.verifyContents(scratch);
            }
        }
    }

    @Test
    void dataFilesOutsideTheSchemeAreRefusedOnOpen() throws Exception {
        assertContains(refusal(alpha().file("alpha-1.0.data/etc/x.conf", "x")).getMessage(),
                "entry 'alpha-1.0.data/etc/x.conf': unknown .data directory 'etc'");
        assertContains(refusal(alpha().file("alpha-1.0.data/loose.txt", "x")).getMessage(),
                "lies directly in alpha-1.0.data");
    }

    @Test
    void structureIsCheckedBeforeAnythingElse() throws Exception {
        assertContains(refusal(alpha().file("other-1.0.dist-info/METADATA", "Name: other\nVersion: 1.0\n")).getMessage(),
                "more than one .dist-info directory: [alpha-1.0.dist-info, other-1.0.dist-info]");
        assertContains(refusal(alpha().rawEntry("alpha/__init__.py", bytes("Y = 2\n"), 0100644)).getMessage(),
                "entry 'alpha/__init__.py': appears twice in the archive");
        assertContains(refusal(alpha().rawEntry("alpha/../../evil.py", bytes("x"), 0100644)).getMessage(),
                "entry 'alpha/../../evil.py': path has a '..' component");
        Path file = alpha().build(tmp);
        ArchiveException e = assertThrows(ArchiveException.class, () -> WheelArchive.open(file, "alpha.zip").close());
        assertContains(e.getMessage(), "alpha.zip: ", "is not a wheel file name");
    }

    private static String b64(byte[] content, String algorithm) throws Exception {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(MessageDigest.getInstance(algorithm).digest(content));
    }
}

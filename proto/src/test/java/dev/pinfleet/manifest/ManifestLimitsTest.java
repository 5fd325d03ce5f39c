package dev.pinfleet.manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every limit of the manifest rules at its edge: the last value accepted and the first refused, and the exact
 * message of each name and path rule (an error names what was wrong; a rule that answers "" instead of its reason
 * would let the caller treat the refusal as a pass).
 */
class ManifestLimitsTest {
    private static final long NOW = 1_800_000_000_000L;
    private static final String SHA = "0123456789abcdef".repeat(4);

    @Test
    void sha256IsExactlySixtyFourLowercaseHexCharacters() {
        assertTrue(Hashing.isSha256Hex(SHA));
        assertTrue(Hashing.isSha256Hex("09af".repeat(16)));
        assertFalse(Hashing.isSha256Hex(null));
        assertFalse(Hashing.isSha256Hex(SHA.substring(1)));
        assertFalse(Hashing.isSha256Hex(SHA + "0"));
        // the characters just outside '0'-'9' and 'a'-'f', and upper case
        for (char c : new char[] {'/', ':', '`', 'g', 'A', 'F'}) {
            assertFalse(Hashing.isSha256Hex(c + SHA.substring(1)), String.valueOf(c));
            assertFalse(Hashing.isSha256Hex(SHA.substring(1) + c), String.valueOf(c));
        }
    }

    @Test
    void sha256OfAFileCoversEveryByte(@TempDir Path dir) throws Exception {
        byte[] big = new byte[(1 << 16) * 2 + 7];
        Arrays.fill(big, (byte) 'x');
        big[big.length - 1] = 'y';
        Path f = Files.write(dir.resolve("big"), big);
        assertEquals(Hashing.sha256Hex(big), Hashing.sha256Hex(f));
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Hashing.sha256Hex(empty));
    }

    @Test
    void fileNamesUpTo255CharactersWithoutSeparatorsOrControlCharacters() {
        assertNull(Names.checkFileName("a".repeat(255)));
        assertEquals("file name longer than 255 characters", Names.checkFileName("a".repeat(256)));
        assertEquals("empty file name", Names.checkFileName(""));
        assertEquals("empty file name", Names.checkFileName(null));
        assertEquals("file name '..' is a directory reference", Names.checkFileName(".."));
        assertEquals("file name '.' is a directory reference", Names.checkFileName("."));
        assertEquals("file name 'a/b' contains a path separator", Names.checkFileName("a/b"));
        assertEquals("file name 'a\\b' contains a path separator", Names.checkFileName("a\\b"));
        assertEquals("file name 'a\\u001fb' contains a control character", Names.checkFileName("a\u001fb"));
        assertEquals("file name 'a\\u007fb' contains a control character", Names.checkFileName("a\u007fb"));
        assertNull(Names.checkFileName("a b~"));
    }

    @Test
    void relativePathsUpTo4096CharactersOfSafeComponents() {
        String path = ("a".repeat(127) + "/").repeat(31) + "a".repeat(128);
        assertEquals(4096, path.length());
        assertNull(Names.checkRelativePath(path));
        assertEquals("path longer than 4096 characters", Names.checkRelativePath(path + "b"));
        assertEquals("empty path", Names.checkRelativePath(""));
        assertEquals("empty path", Names.checkRelativePath(null));
        assertEquals("path '/etc/passwd' is absolute", Names.checkRelativePath("/etc/passwd"));
        assertEquals("path 'a//b' has an empty component", Names.checkRelativePath("a//b"));
        assertEquals("path 'a/' has an empty component", Names.checkRelativePath("a/"));
        assertEquals("path 'a/../b': file name '..' is a directory reference", Names.checkRelativePath("a/../b"));
        assertNull(Names.checkRelativePath("packages/six/six-1.0-py3-none-any.whl"));
    }

    @Test
    void appNamesAndTheirEscapes() {
        assertNull(Names.checkApp("shop"));
        assertEquals("app name 'Shop' must match [a-z0-9][a-z0-9._-]{0,63}", Names.checkApp("Shop"));
        assertEquals("app name 'null' must match [a-z0-9][a-z0-9._-]{0,63}", Names.checkApp(null));
        assertEquals("zope_interface", Names.wheelEscape("Zope.Interface"));
        assertEquals("zope-interface", Names.normalizeProject("Zope__Interface"));
        assertEquals("null", Names.printable(null));
        assertEquals("\\u001f \\u007f~\u0080", Names.printable("\u001f \u007f~\u0080"));
    }

    @Test
    void payloadSizeLimitIsCheckedBeforeParsing() {
        byte[] atLimit = new byte[ManifestCodec.MAX_PAYLOAD_BYTES];
        Arrays.fill(atLimit, (byte) ' ');
        String parsed = assertThrows(ManifestException.class, () -> ManifestCodec.parse(atLimit)).getMessage();
        assertFalse(parsed.contains("refused before parsing"), parsed);
        byte[] over = new byte[ManifestCodec.MAX_PAYLOAD_BYTES + 1];
        assertEquals("manifest payload is 4194305 bytes, more than the limit of 4194304 bytes; refused before parsing",
                assertThrows(ManifestException.class, () -> ManifestCodec.parse(over)).getMessage());
    }

    @Test
    void serialStartsAtOne() throws Exception {
        ManifestCodec.validate(TestManifests.valid(NOW).setSerial(1).build());
        assertEquals("manifest field serial: must be a positive integer, got 0", refusal(TestManifests.valid(NOW)
                .setSerial(0)));
    }

    @Test
    void twentyThousandArtifactsAreAcceptedAndOneMoreIsRefused() throws Exception {
        Manifest.Builder m = TestManifests.valid(NOW).clearArtifacts();
        for (int i = 0; i < ManifestCodec.MAX_ARTIFACTS; i++) {
            m.addArtifacts(TestManifests.wheel("p" + i, "1.0", SHA, 1));
        }
        ManifestCodec.validate(m.build());
        m.addArtifacts(TestManifests.wheel("one-more", "1.0", SHA, 1));
        assertEquals("manifest field artifacts: 20001 entries, more than the limit of 20000", refusal(m));
    }

    @Test
    void artifactSizeFromZeroToFourGibibytes() throws Exception {
        Artifact six = TestManifests.valid(NOW).getArtifacts(0);
        for (long ok : new long[] {0, ManifestCodec.MAX_ARTIFACT_BYTES}) {
            ManifestCodec.validate(TestManifests.valid(NOW).setArtifacts(0, six.toBuilder().setSize(ok)).build());
        }
        for (long bad : new long[] {-1, ManifestCodec.MAX_ARTIFACT_BYTES + 1}) {
            assertEquals("manifest artifacts[0] (six-1.17.0-py3-none-any.whl) field size: " + bad
                    + " is out of range 0..4294967296", refusal(TestManifests.valid(NOW).setArtifacts(0,
                    six.toBuilder().setSize(bad))));
        }
    }

    @Test
    void thePathEndsWithTheFilenameAtAComponentBoundary() throws Exception {
        Artifact six = TestManifests.valid(NOW).getArtifacts(0);
        String f = six.getFilename();
        ManifestCodec.validate(TestManifests.valid(NOW).setArtifacts(0, six.toBuilder().setPath(f)).build());
        ManifestCodec.validate(TestManifests.valid(NOW).setArtifacts(0, six.toBuilder().setPath("x/" + f)).build());
        assertEquals("manifest artifacts[0] (" + f + ") field path: 'x/evil-" + f
                + "' does not end with the artifact's filename", refusal(TestManifests.valid(NOW).setArtifacts(0,
                six.toBuilder().setPath("x/evil-" + f))));
    }

    @Test
    void archivesAreTarGzTgzOrZip() throws Exception {
        for (String name : new String[] {"static.tar.gz", "static.tgz", "static.zip"}) {
            ManifestCodec.validate(TestManifests.valid(NOW).addArtifacts(archive(name)).build());
        }
        for (String name : new String[] {"static.tar", "static.gz", "static.rar"}) {
            assertEquals("manifest artifacts[1] (" + name + ") field filename: an ARCHIVE must be .tar.gz, .tgz or"
                    + " .zip", refusal(TestManifests.valid(NOW).addArtifacts(archive(name))));
        }
        // a FILE may be called anything
        ManifestCodec.validate(TestManifests.valid(NOW).addArtifacts(archive("static.rar").toBuilder()
                .setKind(ArtifactKind.FILE)).build());
    }

    private static Artifact archive(String name) {
        return Artifact.newBuilder().setName("static").setVersion("1.0").setFilename(name).setPath("files/" + name)
                .setSha256(SHA).setSize(10).setKind(ArtifactKind.ARCHIVE).setInstallPath("static").build();
    }

    private static String refusal(Manifest.Builder m) {
        return assertThrows(ManifestException.class, () -> ManifestCodec.validate(m.build())).getMessage();
    }
}

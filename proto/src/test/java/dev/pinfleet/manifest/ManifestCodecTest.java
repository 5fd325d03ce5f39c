package dev.pinfleet.manifest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ManifestCodecTest {
    private final Manifest valid = TestManifests.valid(1_700_000_000_000L).build();

    @Test
    void jsonRoundTripIsExact() throws Exception {
        byte[] json = ManifestCodec.toJson(valid);
        assertEquals(valid, ManifestCodec.parse(json));
        assertArrayEquals(json, ManifestCodec.toJson(ManifestCodec.parse(json)));
        assertTrue(new String(json, StandardCharsets.UTF_8).contains("\"sha256\": \"" + "a".repeat(64) + "\""));
    }

    @Test
    void unknownFieldsAreRefused() {
        String json = new String(ManifestCodec.toJson(valid), StandardCharsets.UTF_8).replaceFirst("\\{", "{\"extra\": 1,");
        ManifestException e = assertThrows(ManifestException.class,
                () -> ManifestCodec.parse(json.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("extra"), e.getMessage());
    }

    @Test
    void oversizedPayloadIsRefusedBeforeParsing() {
        byte[] big = new byte[ManifestCodec.MAX_PAYLOAD_BYTES + 1];
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestCodec.parse(big));
        assertTrue(e.getMessage().contains("manifest payload is 4194305 bytes, more than the limit of 4194304 bytes"),
                e.getMessage());
    }

    private String refusal(Artifact.Builder a) {
        Manifest m = valid.toBuilder().setArtifacts(0, a).build();
        return assertThrows(ManifestException.class, () -> ManifestCodec.validate(m)).getMessage();
    }

    @Test
    void pathTraversalInManifestNamesIsRefused() {
        Artifact a = valid.getArtifacts(0);
        assertTrue(refusal(a.toBuilder().setPath("packages/../../etc/" + a.getFilename())).contains("field path"));
        assertTrue(refusal(a.toBuilder().setPath("/etc/" + a.getFilename())).contains("absolute"));
        assertTrue(refusal(a.toBuilder().setFilename("../x.whl").setPath("x/../x.whl")).contains("field filename"));
        assertTrue(refusal(a.toBuilder().setFilename("a\u0000b.whl").setPath("p/a\u0000b.whl")).contains("control character"));
        assertTrue(refusal(a.toBuilder().setSha256("ABC")).contains("field sha256"));
        assertTrue(refusal(a.toBuilder().setSize(-1)).contains("field size"));
        assertTrue(refusal(a.toBuilder().setFilename("six-1.17.0.tar.gz").setPath("p/six-1.17.0.tar.gz"))
                .contains("source distributions"));
        assertTrue(refusal(a.toBuilder().setKind(ArtifactKind.FILE).setInstallPath("../outside"))
                .contains("install_path"));
        assertTrue(refusal(a.toBuilder().setKind(ArtifactKind.FILE).setInstallPath("bin/python"))
                .contains("virtualenv"));
    }

    @Test
    void appAndFreshnessFieldsAreChecked() {
        assertThrows(ManifestException.class, () -> ManifestCodec.validate(valid.toBuilder().setApp("../x").build()));
        assertThrows(ManifestException.class, () -> ManifestCodec.validate(valid.toBuilder().setSerial(0).build()));
        assertThrows(ManifestException.class, () -> ManifestCodec.validate(valid.toBuilder().clearExpires().build()));
        assertThrows(ManifestException.class, () -> ManifestCodec.validate(valid.toBuilder().setPython("three").build()));
        assertThrows(ManifestException.class, () -> ManifestCodec.validate(valid.toBuilder().clearArtifacts().build()));
        assertThrows(ManifestException.class,
                () -> ManifestCodec.validate(valid.toBuilder().addArtifacts(valid.getArtifacts(0)).build()));
    }

    @Test
    void contentDigestIgnoresFreshnessButNotContent() {
        String d = ManifestCodec.contentDigest(valid);
        assertEquals(d, ManifestCodec.contentDigest(valid.toBuilder().setSerial(99).setEnvironment("prod").build()));
        assertNotEquals(d, ManifestCodec.contentDigest(valid.toBuilder()
                .setArtifacts(0, valid.getArtifacts(0).toBuilder().setSha256("b".repeat(64))).build()));
        assertEquals(16, ManifestCodec.releaseId(d).length());
    }

    @Test
    void aManifestExpiresAtItsExpiryMillisecondNotOneLater() throws Exception {
        long expires = com.google.protobuf.util.Timestamps.toMillis(valid.getExpires());
        ManifestCodec.checkNotExpired(valid, java.time.Instant.ofEpochMilli(expires - 1));
        ManifestException e = assertThrows(ManifestException.class,
                () -> ManifestCodec.checkNotExpired(valid, java.time.Instant.ofEpochMilli(expires)));
        assertEquals(ManifestException.Reason.EXPIRED, e.reason());
        assertTrue(e.getMessage().startsWith("manifest for app web serial 1 expired at "), e.getMessage());
    }

    @Test
    void theNodesEnvironmentMustEqualTheManifestsAndANamedOneMustBeWellFormed() throws Exception {
        Manifest prod = valid.toBuilder().setEnvironment("prod").build();
        ManifestCodec.checkEnvironment(prod, "prod");
        ManifestCodec.checkEnvironment(valid, "");
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestCodec.checkEnvironment(prod, "staging"));
        assertEquals(ManifestException.Reason.ENVIRONMENT, e.reason());
        assertEquals("manifest is bound to environment 'prod' but this node is in environment 'staging'", e.getMessage());
        assertEquals(ManifestException.Reason.ENVIRONMENT,
                assertThrows(ManifestException.class, () -> ManifestCodec.checkEnvironment(valid, "prod")).reason());
        ManifestCodec.validate(prod);
        ManifestException bad = assertThrows(ManifestException.class,
                () -> ManifestCodec.validate(valid.toBuilder().setEnvironment("Prod Env").build()));
        assertEquals(ManifestException.Reason.INVALID, bad.reason());
        assertTrue(bad.getMessage().startsWith("manifest field environment: "), bad.getMessage());
    }

    @Test
    void parseValidatesWhatItParsed() {
        byte[] zeroSerial = ManifestCodec.toJson(valid.toBuilder().setSerial(0).build());
        ManifestException e = assertThrows(ManifestException.class, () -> ManifestCodec.parse(zeroSerial));
        assertTrue(e.getMessage().startsWith("manifest field serial: "), e.getMessage());
    }
}

package dev.pinfleet.trust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.manifest.TestManifests;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrustPolicyTest {
    private final KeyPair alice = Keys.generate();
    private final KeyPair bob = Keys.generate();
    private final KeyPair mallory = Keys.generate();
    private final byte[] payload = "{\"app\": \"web\"}\n".getBytes(StandardCharsets.UTF_8);

    private TrustPolicy policy(int threshold) {
        return new TrustPolicy(Map.of(Keys.keyId(alice.getPublic()), alice.getPublic(),
                Keys.keyId(bob.getPublic()), bob.getPublic()), threshold);
    }

    @Test
    void paeMatchesTheDsseDefinition() {
        assertEquals("DSSEv1 4 type 5 hello",
                new String(Envelope.pae("type", "hello".getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8));
    }

    @Test
    void validSignatureReturnsTheExactPayload() throws Exception {
        SignedManifest env = Envelope.sign(payload, List.of(alice));
        assertArrayEquals(payload, policy(1).verify(env));
    }

    @Test
    void untrustedKeyIsRefusedAndNamed() {
        SignedManifest env = Envelope.sign(payload, List.of(mallory));
        String msg = assertThrows(ManifestException.class, () -> policy(1).verify(env)).getMessage();
        assertTrue(msg.contains("untrusted key") && msg.contains(Keys.keyId(mallory.getPublic()).substring(0, 16)), msg);
    }

    @Test
    void payloadChangedAfterSigningIsRefused() {
        SignedManifest env = Envelope.sign(payload, List.of(alice));
        SignedManifest tampered = env.toBuilder()
                .setPayload(ByteString.copyFromUtf8("{\"app\": \"evil\"}\n")).build();
        String msg = assertThrows(ManifestException.class, () -> policy(1).verify(tampered)).getMessage();
        assertTrue(msg.contains("does not match the payload"), msg);
    }

    @Test
    void unsignedEnvelopeIsRefused() {
        SignedManifest env = Envelope.sign(payload, List.of());
        assertTrue(assertThrows(ManifestException.class, () -> policy(1).verify(env)).getMessage().contains("unsigned"));
    }

    @Test
    void thresholdCountsDistinctKeysOnly() throws Exception {
        SignedManifest once = Envelope.sign(payload, List.of(alice));
        // as a hostile or hand-made envelope would carry it: Envelope itself refuses to sign twice with one key
        SignedManifest twiceAlice = once.toBuilder().addSignatures(once.getSignatures(0)).build();
        String msg = assertThrows(ManifestException.class, () -> policy(2).verify(twiceAlice)).getMessage();
        assertTrue(msg.contains("1 valid signature(s) from distinct trusted keys, 2 needed"), msg);
        SignedManifest both = Envelope.addSignature(Envelope.sign(payload, List.of(alice)), bob);
        assertArrayEquals(payload, policy(2).verify(both));
    }

    @Test
    void oversizedPayloadIsRefusedBeforeAnySignatureIsChecked() throws Exception {
        byte[] big = new byte[dev.pinfleet.manifest.ManifestCodec.MAX_PAYLOAD_BYTES + 1];
        SignedManifest signed = Envelope.sign(big, List.of(alice));
        String msg = assertThrows(ManifestException.class, () -> policy(1).verify(signed)).getMessage();
        assertTrue(msg.contains("envelope field payload: 4194305 bytes, more than the manifest limit of 4194304 bytes"),
                msg);
        // refused on size alone: the same message whether or not the signatures are any good
        SignedManifest unsigned = signed.toBuilder().clearSignatures().build();
        assertEquals(msg, assertThrows(ManifestException.class, () -> policy(1).verify(unsigned)).getMessage());
        // one byte less is checked as usual
        byte[] fits = new byte[dev.pinfleet.manifest.ManifestCodec.MAX_PAYLOAD_BYTES];
        assertArrayEquals(fits, policy(1).verify(Envelope.sign(fits, List.of(alice))));
    }

    @Test
    void duplicateKeyFilesDoNotMakeTwoTrustedKeys(@TempDir Path dir) throws Exception {
        Keys.writePublic(dir.resolve("a.pub"), alice.getPublic());
        Keys.writePublic(dir.resolve("a-copy.pub"), alice.getPublic());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrustPolicy.fromDirectory(dir, 2));
        assertTrue(e.getMessage().contains("threshold 2 exceeds the 1 trusted key(s)"), e.getMessage());
    }

    @Test
    void wrongPayloadTypeIsRefused() {
        SignedManifest env = Envelope.sign(payload, List.of(alice)).toBuilder().setPayloadType("text/plain").build();
        assertThrows(ManifestException.class, () -> policy(1).verify(env));
    }

    @Test
    void keysRoundTripThroughPemFilesAndDirectoryPolicy(@TempDir Path dir) throws Exception {
        Keys.writePrivate(dir.resolve("a.key"), alice.getPrivate());
        Keys.writePublic(dir.resolve("a.pub"), alice.getPublic());
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(dir.resolve("a.key"))));
        KeyPair back = Keys.pairOf(Keys.readPrivate(dir.resolve("a.key")));
        assertEquals(Keys.keyId(alice.getPublic()), Keys.keyId(back.getPublic()));
        TrustPolicy p = TrustPolicy.fromDirectory(dir, 1);
        assertArrayEquals(payload, p.verify(Envelope.sign(payload, List.of(back))));
    }

    @Test
    void removedKeyNoLongerCounts(@TempDir Path dir) throws Exception {
        Keys.writePublic(dir.resolve("a.pub"), alice.getPublic());
        Keys.writePublic(dir.resolve("b.pub"), bob.getPublic());
        SignedManifest byBob = Envelope.sign(payload, List.of(bob));
        TrustPolicy.fromDirectory(dir, 1).verify(byBob);
        Files.delete(dir.resolve("b.pub"));
        assertThrows(ManifestException.class, () -> TrustPolicy.fromDirectory(dir, 1).verify(byBob));
    }

    private static final Instant NOW = Instant.parse("2026-12-05T17:52:00Z");

    private SignedManifest signedManifest(Manifest m) {
        return Envelope.sign(ManifestCodec.toJson(m), List.of(alice));
    }

    @Test
    void admitReturnsTheManifestThatPassesEveryRule() throws Exception {
        Manifest m = TestManifests.valid(NOW.toEpochMilli()).setEnvironment("production").build();
        assertEquals(m, policy(1).admit(signedManifest(m), NOW, "production"));
        assertEquals(m, policy(1).admit(signedManifest(m), NOW, null), "null: the environment is not known");
    }

    @Test
    void admitRefusesAnExpiredManifestNamingTheExpiry() {
        Manifest m = TestManifests.valid(NOW.toEpochMilli())
                .setExpires(Timestamps.parseUnchecked("2026-12-05T17:00:00Z")).build();
        ManifestException e = assertThrows(ManifestException.class, () -> policy(1).admit(signedManifest(m), NOW, null));
        assertEquals(ManifestException.Reason.EXPIRED, e.reason());
        assertEquals("manifest for app web serial 1 expired at 2026-12-05T17:00:00Z (checked at 2026-12-05T17:52:00Z)",
                e.getMessage());
        // expiring exactly now is expired; a millisecond later is not yet
        Manifest edge = m.toBuilder().setExpires(Timestamps.fromMillis(NOW.toEpochMilli())).build();
        assertThrows(ManifestException.class, () -> policy(1).admit(signedManifest(edge), NOW, null));
        Manifest later = m.toBuilder().setExpires(Timestamps.fromMillis(NOW.toEpochMilli() + 1)).build();
        assertDoesNotThrow(() -> policy(1).admit(signedManifest(later), NOW, null));
    }

    @Test
    void admitRefusesAnotherEnvironmentOnlyWhereTheNodesIsKnown() throws Exception {
        Manifest m = TestManifests.valid(NOW.toEpochMilli()).setEnvironment("staging").build();
        ManifestException e = assertThrows(ManifestException.class,
                () -> policy(1).admit(signedManifest(m), NOW, "production"));
        assertEquals(ManifestException.Reason.ENVIRONMENT, e.reason());
        assertEquals("manifest is bound to environment 'staging' but this node is in environment 'production'",
                e.getMessage());
        assertEquals(ManifestException.Reason.ENVIRONMENT, assertThrows(ManifestException.class,
                () -> policy(1).admit(signedManifest(m), NOW, "")).reason(), "a node without an environment");
        assertEquals(m, policy(1).admit(signedManifest(m), NOW, null));
    }

    @Test
    void admitChecksSignaturesBeforeAnythingElse() {
        Manifest expired = TestManifests.valid(NOW.toEpochMilli() - 7_200_000).build();
        SignedManifest byMallory = Envelope.sign(ManifestCodec.toJson(expired), List.of(mallory));
        assertEquals(ManifestException.Reason.SIGNATURE, assertThrows(ManifestException.class,
                () -> policy(1).admit(byMallory, NOW, "other")).reason());
        SignedManifest notAManifest = Envelope.sign(payload, List.of(alice));
        assertEquals(ManifestException.Reason.INVALID, assertThrows(ManifestException.class,
                () -> policy(1).admit(notAManifest, NOW, null)).reason());
    }

    @Test
    void aKeySignsAnEnvelopeOnceAndTheRefusalNamesIt() {
        String id = Keys.keyId(alice.getPublic());
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class,
                () -> Envelope.sign(payload, List.of(alice, bob, alice)));
        assertTrue(twice.getMessage().contains("already signed by key " + id), twice.getMessage());
        SignedManifest signed = Envelope.sign(payload, List.of(alice));
        IllegalArgumentException added = assertThrows(IllegalArgumentException.class,
                () -> Envelope.addSignature(signed, alice));
        assertTrue(added.getMessage().contains("already signed by key " + id), added.getMessage());
        assertEquals(2, Envelope.addSignature(signed, bob).getSignaturesCount());
    }

    @Test
    void thirtyTwoSignaturesAreLookedAtAndAThirtyThirdIsRefusedUnchecked() throws Exception {
        SignedManifest signed = Envelope.sign(payload, List.of(alice));
        SignedManifest.Builder b = signed.toBuilder();
        for (int i = 1; i < TrustPolicy.MAX_SIGNATURES; i++) {
            b.addSignatures(dev.pinfleet.proto.v1.Signature.newBuilder().setKeyid("untrusted-" + i)
                    .setSig(ByteString.copyFromUtf8("x")));
        }
        assertEquals(32, b.getSignaturesCount());
        assertArrayEquals(payload, policy(1).verify(b.build()), "32 signatures, one of them trusted and valid");
        b.addSignatures(signed.getSignatures(0));
        String msg = assertThrows(ManifestException.class, () -> policy(1).verify(b.build())).getMessage();
        assertEquals("envelope has 33 signatures, more than the limit of 32", msg);
    }

    @Test
    void untrustedKeyIdsAreShownCutToSixteenCharacters() {
        SignedManifest env = Envelope.sign(payload, List.of(alice)).toBuilder().clearSignatures()
                .addSignatures(dev.pinfleet.proto.v1.Signature.newBuilder().setKeyid("0123456789abcdef")
                        .setSig(ByteString.copyFromUtf8("x")))
                .addSignatures(dev.pinfleet.proto.v1.Signature.newBuilder().setKeyid("0123456789abcdefXYZ")
                        .setSig(ByteString.copyFromUtf8("x")))
                .addSignatures(dev.pinfleet.proto.v1.Signature.newBuilder().setKeyid("short\n")
                        .setSig(ByteString.copyFromUtf8("x")))
                .build();
        String msg = assertThrows(ManifestException.class, () -> policy(1).verify(env)).getMessage();
        assertEquals("signature check failed: 0 valid signature(s) from distinct trusted keys, 1 needed;"
                + " signed by untrusted key(s) [0123456789abcdef, short\\u000a]", msg);
    }

    @Test
    void aTrustedKeyThatIsNotEd25519NeverValidatesASignature() throws Exception {
        KeyPair ec = java.security.KeyPairGenerator.getInstance("EC").generateKeyPair();
        TrustPolicy odd = new TrustPolicy(Map.of("ec-key", ec.getPublic()), 1);
        SignedManifest env = Envelope.sign(payload, List.of(alice)).toBuilder().setSignatures(0,
                Envelope.sign(payload, List.of(alice)).getSignatures(0).toBuilder().setKeyid("ec-key")).build();
        String msg = assertThrows(ManifestException.class, () -> odd.verify(env)).getMessage();
        assertTrue(msg.contains("0 valid signature(s)") && msg.contains("does not match the payload (tampered?) for"
                + " key(s) [ec-key]"), msg);
    }

    @Test
    void thresholdAndSizeAreWhatThePolicyWasMadeWith() {
        assertEquals(2, policy(2).threshold());
        assertEquals(2, policy(1).size());
        assertEquals(1, policy(1).threshold());
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> policy(0));
        assertEquals("signature threshold must be at least 1, got 0", zero.getMessage());
        IllegalArgumentException three = assertThrows(IllegalArgumentException.class, () -> policy(3));
        assertEquals("signature threshold 3 exceeds the 2 trusted key(s)", three.getMessage());
    }

    @Test
    void aKeyFileWithoutItsPemBlockIsRefused(@TempDir Path dir) throws Exception {
        Path pub = dir.resolve("a.pub");
        Keys.writePublic(pub, alice.getPublic());
        String pem = Files.readString(pub);
        Path swapped = Files.writeString(dir.resolve("swapped.pem"), pem.substring(pem.indexOf("-----END"))
                + pem.substring(0, pem.indexOf("-----END")));
        IOException e = assertThrows(IOException.class, () -> Keys.readPublic(swapped));
        assertTrue(e.getMessage().startsWith(swapped + ": no '-----BEGIN "), e.getMessage());
        Path none = Files.writeString(dir.resolve("none.pem"), "just text\n");
        assertThrows(IOException.class, () -> Keys.readPublic(none));
        assertEquals(Keys.keyId(alice.getPublic()), Keys.keyId(Keys.readPublic(pub)));
    }
}

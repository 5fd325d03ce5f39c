package dev.pinfleet.trust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.SignedManifest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
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
        SignedManifest twiceAlice = Envelope.addSignature(Envelope.sign(payload, List.of(alice)), alice);
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
}

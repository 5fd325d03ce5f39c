package dev.pinfleet.trust;

import com.google.protobuf.ByteString;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.Signature;
import java.util.List;

/** Signs payloads into DSSE-style envelopes. The signature covers PAE(type, payload), never a re-encoding. */
public final class Envelope {
    private Envelope() {}

    /** Media type of a manifest payload. */
    public static final String MANIFEST_TYPE = "application/vnd.pinfleet.manifest+json";

    /** DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
    public static byte[] pae(String payloadType, byte[] payload) {
        byte[] type = payloadType.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + type.length + 32);
        out.writeBytes(("DSSEv1 " + type.length + " ").getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(type);
        out.writeBytes((" " + payload.length + " ").getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(payload);
        return out.toByteArray();
    }

    /**
     * Signs {@code payload} with each key.
     *
     * @throws IllegalArgumentException when two of the keys are one key (see {@link #addSignature})
     */
    public static SignedManifest sign(byte[] payload, List<KeyPair> keys) {
        SignedManifest env = SignedManifest.newBuilder()
                .setPayload(ByteString.copyFrom(payload))
                .setPayloadType(MANIFEST_TYPE)
                .build();
        for (KeyPair k : keys) {
            env = addSignature(env, k);
        }
        return env;
    }

    /**
     * Adds one more signature to an envelope (k-of-n sign-off by several holders).
     *
     * @throws IllegalArgumentException naming the key id when the envelope already carries a signature by this key:
     *     a second one would count for nothing (a threshold counts distinct keys) and only mislead whoever counts
     *     the signatures
     */
    public static SignedManifest addSignature(SignedManifest envelope, KeyPair key) {
        String keyid = Keys.keyId(key.getPublic());
        if (envelope.getSignaturesList().stream().anyMatch(s -> s.getKeyid().equals(keyid))) {
            throw new IllegalArgumentException("the envelope is already signed by key " + keyid
                    + "; a second signature by the same key counts for nothing");
        }
        return envelope.toBuilder()
                .addSignatures(signature(envelope.getPayloadType(), envelope.getPayload().toByteArray(), key))
                .build();
    }

    private static dev.pinfleet.proto.v1.Signature signature(String type, byte[] payload, KeyPair key) {
        try {
            Signature s = Signature.getInstance("Ed25519");
            s.initSign(key.getPrivate());
            s.update(pae(type, payload));
            return dev.pinfleet.proto.v1.Signature.newBuilder()
                    .setKeyid(Keys.keyId(key.getPublic()))
                    .setSig(ByteString.copyFrom(s.sign()))
                    .build();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }
}

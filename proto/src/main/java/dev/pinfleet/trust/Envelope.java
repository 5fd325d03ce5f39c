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

    public static SignedManifest sign(byte[] payload, List<KeyPair> keys) {
        SignedManifest.Builder b = SignedManifest.newBuilder()
                .setPayload(ByteString.copyFrom(payload))
                .setPayloadType(MANIFEST_TYPE);
        for (KeyPair k : keys) {
            b.addSignatures(signature(MANIFEST_TYPE, payload, k));
        }
        return b.build();
    }

    /** Adds one more signature to an envelope (k-of-n sign-off by several holders). */
    public static SignedManifest addSignature(SignedManifest envelope, KeyPair key) {
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

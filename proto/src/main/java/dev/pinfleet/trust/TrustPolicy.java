package dev.pinfleet.trust;

import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A set of trusted Ed25519 keys and the number of distinct ones whose valid signatures an envelope
 * needs (k of n). Each trusted key counts once, however often it signed.
 */
public final class TrustPolicy {
    /** Most signatures looked at in one envelope; more is refused before any verification. */
    public static final int MAX_SIGNATURES = 32;

    private final Map<String, PublicKey> keys;
    private final int threshold;

    public TrustPolicy(Map<String, PublicKey> keysById, int threshold) {
        if (threshold < 1) {
            throw new IllegalArgumentException("signature threshold must be at least 1, got " + threshold);
        }
        if (threshold > keysById.size()) {
            throw new IllegalArgumentException("signature threshold " + threshold + " exceeds the "
                    + keysById.size() + " trusted key(s)");
        }
        this.keys = Map.copyOf(keysById);
        this.threshold = threshold;
    }

    /** Trusts every `*.pub` file in a directory. */
    public static TrustPolicy fromDirectory(Path dir, int threshold) throws IOException {
        Map<String, PublicKey> keys = new TreeMap<>();
        if (!Files.isDirectory(dir)) {
            throw new IOException("trusted keys directory " + dir + " does not exist");
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.pub")) {
            for (Path f : files) {
                PublicKey k = Keys.readPublic(f);
                keys.put(Keys.keyId(k), k);
            }
        }
        if (keys.isEmpty()) {
            throw new IOException("trusted keys directory " + dir + " holds no *.pub key");
        }
        return new TrustPolicy(keys, threshold);
    }

    public int threshold() {
        return threshold;
    }

    public int size() {
        return keys.size();
    }

    /**
     * Returns the verified payload bytes, or says why the envelope is refused. A payload larger than
     * {@link ManifestCodec#MAX_PAYLOAD_BYTES} is refused first, before any signature is checked or byte parsed.
     */
    public byte[] verify(SignedManifest envelope) throws ManifestException {
        if (envelope.getPayload().size() > ManifestCodec.MAX_PAYLOAD_BYTES) {
            throw new ManifestException("envelope field payload: " + envelope.getPayload().size()
                    + " bytes, more than the manifest limit of " + ManifestCodec.MAX_PAYLOAD_BYTES
                    + " bytes; refused before checking signatures or parsing");
        }
        if (!Envelope.MANIFEST_TYPE.equals(envelope.getPayloadType())) {
            throw new ManifestException(ManifestException.Reason.SIGNATURE, "envelope payload_type '" + envelope.getPayloadType() + "' is not '"
                    + Envelope.MANIFEST_TYPE + "'");
        }
        if (envelope.getSignaturesCount() == 0) {
            throw new ManifestException(ManifestException.Reason.SIGNATURE, "envelope is unsigned: 0 signatures, " + threshold + " trusted needed");
        }
        if (envelope.getSignaturesCount() > MAX_SIGNATURES) {
            throw new ManifestException(ManifestException.Reason.SIGNATURE, "envelope has " + envelope.getSignaturesCount()
                    + " signatures, more than the limit of " + MAX_SIGNATURES);
        }
        byte[] payload = envelope.getPayload().toByteArray();
        byte[] pae = Envelope.pae(envelope.getPayloadType(), payload);
        TreeSet<String> valid = new TreeSet<>();
        TreeSet<String> untrusted = new TreeSet<>();
        TreeSet<String> invalid = new TreeSet<>();
        for (dev.pinfleet.proto.v1.Signature s : envelope.getSignaturesList()) {
            PublicKey key = keys.get(s.getKeyid());
            if (key == null) {
                untrusted.add(shortId(s.getKeyid()));
                continue;
            }
            if (verifyOne(key, pae, s.getSig().toByteArray())) {
                valid.add(s.getKeyid());
            } else {
                invalid.add(shortId(s.getKeyid()));
            }
        }
        if (valid.size() < threshold) {
            StringBuilder why = new StringBuilder("signature check failed: ")
                    .append(valid.size()).append(" valid signature(s) from distinct trusted keys, ")
                    .append(threshold).append(" needed");
            if (!invalid.isEmpty()) {
                why.append("; signature does not match the payload (tampered?) for key(s) ").append(invalid);
            }
            if (!untrusted.isEmpty()) {
                why.append("; signed by untrusted key(s) ").append(untrusted);
            }
            throw new ManifestException(ManifestException.Reason.SIGNATURE, why.toString());
        }
        return payload;
    }

    /**
     * The agent's whole check of an envelope before it acts on it, and the operator's {@code pinfleet verify}, {@code
     * sign} and {@code deploy} make the same one: the payload's size, a threshold of distinct trusted signatures
     * ({@link #verify}), a valid manifest ({@link ManifestCodec#parse}), not expired at {@code now} ({@link
     * ManifestCodec#checkNotExpired}) and, when {@code environment} is not null, bound to that environment or to
     * none ({@link ManifestCodec#checkEnvironment}).
     *
     * @param environment the node's environment ("" for none), or null where it is not known (nothing checked)
     * @return the verified, parsed manifest
     * @throws ManifestException whose {@link ManifestException#reason()} says which rule refused it
     */
    public Manifest admit(SignedManifest envelope, Instant now, String environment) throws ManifestException {
        Manifest m = ManifestCodec.parse(verify(envelope));
        ManifestCodec.checkNotExpired(m, now);
        if (environment != null) {
            ManifestCodec.checkEnvironment(m, environment);
        }
        return m;
    }

    private static boolean verifyOne(PublicKey key, byte[] pae, byte[] sig) {
        try {
            Signature v = Signature.getInstance("Ed25519");
            v.initVerify(key);
            v.update(pae);
            return v.verify(sig);
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    private static String shortId(String keyid) {
        String s = dev.pinfleet.manifest.Names.printable(keyid);
        return s.length() > 16 ? s.substring(0, 16) : s;
    }
}

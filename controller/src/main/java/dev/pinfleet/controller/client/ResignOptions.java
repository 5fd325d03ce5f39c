package dev.pinfleet.controller.client;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How {@code rollback} and {@code redeploy} sign an earlier manifest's content anew: the operator's keys, the keys its
 * old signatures are checked against first, and where the new envelope is kept.
 */
public final class ResignOptions {
    @Option(names = {"-k", "--key"}, required = true, paramLabel = "KEY", description = "Private key to sign the new manifest (repeat for k of n).")
    List<Path> keys = new ArrayList<>();

    @Option(names = "--trusted", paramLabel = "DIR", description = "Check the earlier manifest's signatures against these *.pub keys first.")
    Path trusted;

    @Option(names = "--threshold", defaultValue = "1", description = "With --trusted: signatures needed (default: ${DEFAULT-VALUE}).")
    int threshold;

    /** The keys the earlier manifest must be signed with, or null when not checked. */
    TrustPolicy trust() throws IOException {
        return trusted == null ? null : TrustPolicy.fromDirectory(trusted, threshold);
    }

    /** The private keys, read (so a bad one is named before anything else happens). */
    List<KeyPair> pairs() throws IOException {
        List<KeyPair> pairs = new ArrayList<>();
        for (Path k : keys) {
            pairs.add(Keys.pairOf(Keys.readPrivate(k)));
        }
        return pairs;
    }

    /** {@code content} under {@code serial}, created at {@code nowMs} and valid for {@code validity} from then. */
    static Manifest renewed(Manifest content, long serial, long nowMs, Duration validity) {
        return content.toBuilder().setSerial(serial).setCreated(Timestamps.fromMillis(nowMs))
                .setExpires(Timestamps.fromMillis(nowMs + validity.toMillis())).build();
    }

    /** {@code m} signed with {@code pairs}, written to {@code file}. */
    static SignedManifest signTo(Manifest m, List<KeyPair> pairs, Path file) {
        SignedManifest env = Envelope.sign(ManifestCodec.toJson(m), pairs);
        Json.write(file, env);
        return env;
    }
}

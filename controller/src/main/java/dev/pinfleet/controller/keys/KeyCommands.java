package dev.pinfleet.controller.keys;

import com.google.gson.JsonArray;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** keygen, sign and verify: the operator's side of the signed envelope. */
public final class KeyCommands {
    private KeyCommands() {}

    @Command(mixinStandardHelpOptions = true, name = "keygen", description = {
        "Create an Ed25519 signing key pair: NAME.key (private, mode 0600) and NAME.pub (public).",
        "Copy NAME.pub into every agent's trusted-keys directory."})
    public static final class Keygen implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "NAME", description = "Path prefix of the key files, e.g. keys/release-2026.")
        Path name;

        @Option(names = "--force", description = "Overwrite existing key files.")
        boolean force;

        @Mixin OutputOptions print;

        @Override
        public Integer call() throws IOException {
            Path priv = Path.of(name + ".key");
            Path pub = Path.of(name + ".pub");
            if (!force && (Files.exists(priv) || Files.exists(pub))) {
                throw new CliException(priv + " or " + pub + " already exists; pass --force to replace it");
            }
            if (priv.toAbsolutePath().getParent() != null) {
                Files.createDirectories(priv.toAbsolutePath().getParent());
            }
            KeyPair kp = Keys.generate();
            Keys.writePrivate(priv, kp.getPrivate());
            Keys.writePublic(pub, kp.getPublic());
            String keyId = Keys.keyId(kp.getPublic());
            print.summary("wrote %s (private, 0600) and %s, keyid %s", priv, pub, keyId);
            print.result(o -> {
                o.addProperty("private_key", priv.toString());
                o.addProperty("public_key", pub.toString());
                o.addProperty("key_id", keyId);
            });
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "sign", description = {
        "Sign a manifest's exact bytes into a DSSE-style envelope (Ed25519).",
        "With --add, add one more signature to an existing envelope (k-of-n sign-off).",
        "Refuses an invalid or already expired manifest (freeze it again) and a second signature by one key."})
    public static final class Sign implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "MANIFEST", description = "manifest.json from 'pinfleet freeze', or an envelope with --add.")
        Path input;

        @Option(names = {"-k", "--key"}, required = true, paramLabel = "KEY",
                description = "Private key file (repeat for several signers).")
        List<Path> keys = new ArrayList<>();

        @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "Envelope to write.")
        Path output;

        @Option(names = "--add", description = "INPUT is already an envelope: add signatures to it.")
        boolean add;

        @Mixin OutputOptions print;

        private final Clock clock;

        public Sign(Clock clock) {
            this.clock = clock;
        }

        @Override
        public Integer call() throws IOException {
            List<KeyPair> pairs = new ArrayList<>();
            for (Path k : keys) {
                pairs.add(Keys.pairOf(Keys.readPrivate(k)));
            }
            SignedManifest unsigned = add ? Json.read(input, SignedManifest.newBuilder()).build()
                    : Envelope.sign(Files.readAllBytes(input), List.of());
            try {
                ManifestCodec.checkNotExpired(ManifestCodec.parse(unsigned.getPayload().toByteArray()), clock.instant());
            } catch (ManifestException e) {
                throw ManifestChecks.refusal(input, new ManifestException(e.reason(), "refusing to sign: " + e.getMessage()));
            }
            SignedManifest env = unsigned;
            try {
                for (KeyPair kp : pairs) {
                    env = Envelope.addSignature(env, kp);
                }
            } catch (IllegalArgumentException e) {
                throw new CliException(input + ": refusing to sign: " + e.getMessage() + " (each --key once)");
            }
            Json.write(output, env);
            SignedManifest signed = env;
            print.summary("wrote %s with %d signature(s)", output, signed.getSignaturesCount());
            print.result(o -> {
                o.addProperty("output", output.toString());
                o.addProperty("signatures", signed.getSignaturesCount());
                JsonArray ids = new JsonArray();
                signed.getSignaturesList().forEach(sig -> ids.add(sig.getKeyid()));
                o.add("key_ids", ids);
            });
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "verify", description = {
        "Check an envelope as an agent would, with the agent's own code: the payload's size, a threshold of distinct",
        "trusted signatures, a valid manifest, not expired, and (with --environment) bound to that environment.",
        "Prints the manifest's app, serial, expiry, content digest and artifact count; exit 1 with the reason if an",
        "agent would refuse it."})
    public static final class Verify implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "ENVELOPE", description = "Signed manifest (from 'pinfleet sign').")
        Path input;

        @Option(names = "--trusted", required = true, paramLabel = "DIR", description = "Directory of trusted *.pub keys.")
        Path trusted;

        @Option(names = "--threshold", defaultValue = "1", description = "Distinct trusted signatures needed (default: ${DEFAULT-VALUE}).")
        int threshold;

        @Option(names = "--environment", paramLabel = "ENV",
                description = "Also check as an agent of environment ENV would (\"\" for an agent without one).")
        String environment;

        @Mixin OutputOptions print;

        private final Clock clock;

        public Verify(Clock clock) {
            this.clock = clock;
        }

        @Override
        public Integer call() throws IOException {
            SignedManifest env = Json.read(input, SignedManifest.newBuilder()).build();
            Manifest m = ManifestChecks.admit(input, env, TrustPolicy.fromDirectory(trusted, threshold), clock.instant(),
                    environment == null ? Map.of() : Map.of("--environment", environment));
            print.summary("ok: %s serial %d, %d artifact(s), expires %s, digest %s", m.getApp(), m.getSerial(),
                    m.getArtifactsCount(), com.google.protobuf.util.Timestamps.toString(m.getExpires()),
                    ManifestCodec.contentDigest(m));
            for (dev.pinfleet.proto.v1.Artifact a : m.getArtifactsList()) {
                print.detail("  %s sha256 %s (%d bytes)", a.getPath(), a.getSha256(), a.getSize());
            }
            print.result(o -> {
                o.addProperty("ok", true);
                o.addProperty("app", m.getApp());
                o.addProperty("environment", m.getEnvironment());
                o.addProperty("serial", m.getSerial());
                o.addProperty("artifacts", m.getArtifactsCount());
                o.addProperty("expires", com.google.protobuf.util.Timestamps.toString(m.getExpires()));
                o.addProperty("manifest_digest", ManifestCodec.contentDigest(m));
            });
            return 0;
        }
    }
}

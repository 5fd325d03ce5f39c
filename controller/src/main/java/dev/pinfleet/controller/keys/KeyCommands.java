package dev.pinfleet.controller.keys;

import dev.pinfleet.controller.CliException;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
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
            PrintWriter out = spec.commandLine().getOut();
            out.println("wrote " + priv + " (private, 0600) and " + pub);
            out.println("keyid " + Keys.keyId(kp.getPublic()));
            out.flush();
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "sign", description = {
        "Sign a manifest's exact bytes into a DSSE-style envelope (Ed25519).",
        "With --add, add one more signature to an existing envelope (k-of-n sign-off)."})
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

        @Override
        public Integer call() throws IOException {
            List<KeyPair> pairs = new ArrayList<>();
            for (Path k : keys) {
                pairs.add(Keys.pairOf(Keys.readPrivate(k)));
            }
            SignedManifest env;
            if (add) {
                env = Json.read(input, SignedManifest.newBuilder()).build();
                for (KeyPair kp : pairs) {
                    env = Envelope.addSignature(env, kp);
                }
            } else {
                byte[] payload = Files.readAllBytes(input);
                try {
                    ManifestCodec.parse(payload);
                } catch (ManifestException e) {
                    throw new CliException(input + ": refusing to sign: " + e.getMessage());
                }
                env = Envelope.sign(payload, pairs);
            }
            Json.write(output, env);
            PrintWriter out = spec.commandLine().getOut();
            out.println("wrote " + output + " with " + env.getSignaturesCount() + " signature(s)");
            out.flush();
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "verify", description = {
        "Check an envelope as an agent would: a threshold of distinct trusted signatures, then a valid manifest.",
        "Prints the manifest's app, serial, expiry, content digest and artifact count."})
    public static final class Verify implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "ENVELOPE", description = "Signed manifest (from 'pinfleet sign').")
        Path input;

        @Option(names = "--trusted", required = true, paramLabel = "DIR", description = "Directory of trusted *.pub keys.")
        Path trusted;

        @Option(names = "--threshold", defaultValue = "1", description = "Distinct trusted signatures needed (default: ${DEFAULT-VALUE}).")
        int threshold;

        @Override
        public Integer call() throws IOException {
            SignedManifest env = Json.read(input, SignedManifest.newBuilder()).build();
            TrustPolicy policy = TrustPolicy.fromDirectory(trusted, threshold);
            Manifest m;
            try {
                m = ManifestCodec.parse(policy.verify(env));
            } catch (ManifestException e) {
                throw new CliException(input + ": " + e.getMessage());
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("ok: %s serial %d, %d artifact(s), expires %s, digest %s%n", m.getApp(), m.getSerial(),
                    m.getArtifactsCount(), com.google.protobuf.util.Timestamps.toString(m.getExpires()),
                    ManifestCodec.contentDigest(m));
            out.flush();
            return 0;
        }
    }
}

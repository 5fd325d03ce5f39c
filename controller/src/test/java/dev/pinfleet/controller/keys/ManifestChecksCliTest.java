package dev.pinfleet.controller.keys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Keys;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pinfleet sign}, {@code verify} and {@code deploy} refuse what an agent refuses (issue 11 items 2 and 3), with
 * a fixed clock: checked at 17:52Z, the manifest expired at 17:00Z.
 */
class ManifestChecksCliTest {
    private static final Instant NOW = Instant.parse("2026-12-05T17:52:00Z");
    private static final String EXPIRY = "2026-12-05T17:00:00Z";

    @TempDir Path dir;
    Path key;
    Path trusted;

    private record Run(int code, String out, String err) {
        String all() {
            return out + err;
        }
    }

    private static Run cli(Instant at, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), Clock.fixed(at, ZoneOffset.UTC));
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeEach
    void keys() throws Exception {
        key = dir.resolve("release.key");
        assertEquals(0, cli(NOW, "keygen", dir.resolve("release").toString()).code());
        trusted = Files.createDirectories(dir.resolve("trusted"));
        Files.copy(dir.resolve("release.pub"), trusted.resolve("release.pub"));
    }

    private Path manifest(String name, Instant expires, String environment) throws Exception {
        String file = "six-1.17.0-py3-none-any.whl";
        Manifest m = Manifest.newBuilder().setApp("shop").setSerial(7).setPython("3.11").setEnvironment(environment)
                .setCreated(Timestamps.fromMillis(expires.toEpochMilli() - 86_400_000L))
                .setExpires(Timestamps.fromMillis(expires.toEpochMilli()))
                .addArtifacts(Artifact.newBuilder().setName("six").setVersion("1.17.0").setFilename(file)
                        .setPath("packages/six/" + file).setSha256("a".repeat(64)).setSize(100).setKind(ArtifactKind.WHEEL))
                .build();
        return Files.write(dir.resolve(name), ManifestCodec.toJson(m));
    }

    /** Signed while it was still valid (the clock an hour before the expiry). */
    private Path signedBeforeExpiry(String environment) throws Exception {
        Path m = manifest("m.json", Instant.parse(EXPIRY), environment);
        Path signed = dir.resolve("m.signed.json");
        Run s = cli(Instant.parse(EXPIRY).minusSeconds(3600), "sign", m.toString(), "-k", key.toString(), "-o",
                signed.toString());
        assertEquals(0, s.code(), s.all());
        return signed;
    }

    @Test
    void verifyOfAnExpiredManifestExitsNonZeroNamingTheExpiry() throws Exception {
        Path signed = signedBeforeExpiry("");
        Run before = cli(Instant.parse(EXPIRY).minusSeconds(60), "verify", signed.toString(), "--trusted", trusted.toString());
        assertEquals(0, before.code(), before.all());
        assertTrue(before.out().startsWith("ok: shop serial 7, 1 artifact(s), expires " + EXPIRY), before.out());

        Run v = cli(NOW, "verify", signed.toString(), "--trusted", trusted.toString());
        assertEquals(1, v.code(), v.all());
        assertEquals("", v.out());
        assertTrue(v.err().contains(signed + ": manifest for app shop serial 7 expired at " + EXPIRY
                + " (checked at 2026-12-05T17:52:00Z)"), v.err());
        assertTrue(v.err().contains("pinfleet freeze") && v.err().contains("--expires-in"), v.err());
    }

    @Test
    void verifyWithAnEnvironmentChecksItAsAnAgentOfThatEnvironmentWould() throws Exception {
        Path signed = signedBeforeExpiry("staging");
        Instant valid = Instant.parse(EXPIRY).minusSeconds(60);
        assertEquals(0, cli(valid, "verify", signed.toString(), "--trusted", trusted.toString(), "--environment",
                "staging").code());
        Run v = cli(valid, "verify", signed.toString(), "--trusted", trusted.toString(), "--environment", "production");
        assertEquals(1, v.code(), v.all());
        assertTrue(v.err().contains("manifest is bound to environment 'staging', not environment 'production'"
                + " (--environment)"), v.err());
    }

    @Test
    void signRefusesAnExpiredManifestAndSaysHowToFreezeAFreshOne() throws Exception {
        Path m = manifest("m.json", Instant.parse(EXPIRY), "");
        Path out = dir.resolve("m.signed.json");
        Run s = cli(NOW, "sign", m.toString(), "-k", key.toString(), "-o", out.toString());
        assertEquals(1, s.code(), s.all());
        assertTrue(s.err().contains(m + ": refusing to sign: manifest for app shop serial 7 expired at " + EXPIRY),
                s.err());
        assertTrue(s.err().contains("--expires-in"), s.err());
        assertFalse(Files.exists(out), "nothing written");

        // adding a signature to an envelope whose manifest has expired since is refused as well
        Path signed = signedBeforeExpiry("");
        byte[] bytes = Files.readAllBytes(signed);
        assertEquals(0, cli(NOW, "keygen", dir.resolve("second").toString()).code());
        Run add = cli(NOW, "sign", "--add", signed.toString(), "-k", dir.resolve("second.key").toString(), "-o",
                signed.toString());
        assertEquals(1, add.code(), add.all());
        assertTrue(add.err().contains("expired at " + EXPIRY), add.err());
        assertEquals(new String(bytes), Files.readString(signed), "the envelope is unchanged");
    }

    @Test
    void signRefusesASecondSignatureByTheSameKeyNamingIt() throws Exception {
        Instant valid = Instant.parse(EXPIRY).minusSeconds(3600);
        Path m = manifest("m.json", Instant.parse(EXPIRY), "");
        Path out = dir.resolve("m.signed.json");
        String keyid = Keys.keyId(Keys.pairOf(Keys.readPrivate(key)).getPublic());
        Run twice = cli(valid, "sign", m.toString(), "-k", key.toString(), "-k", key.toString(), "-o", out.toString());
        assertEquals(1, twice.code(), twice.all());
        assertTrue(twice.err().contains("already signed by key " + keyid), twice.err());
        assertFalse(twice.out().contains("2 signature(s)"), twice.out());
        assertFalse(Files.exists(out), "nothing written");

        assertEquals(0, cli(valid, "sign", m.toString(), "-k", key.toString(), "-o", out.toString()).code());
        Run again = cli(valid, "sign", "--add", out.toString(), "-k", key.toString(), "-o", out.toString());
        assertEquals(1, again.code(), again.all());
        assertTrue(again.err().contains("already signed by key " + keyid), again.err());
        assertEquals(1, Json.read(out, SignedManifest.newBuilder()).getSignaturesCount());

        assertEquals(0, cli(valid, "keygen", dir.resolve("second").toString()).code());
        Run other = cli(valid, "sign", "--add", out.toString(), "-k", dir.resolve("second.key").toString(), "-o",
                out.toString());
        assertEquals(0, other.code(), other.all());
        assertTrue(other.out().contains("with 2 signature(s)"), other.out());
    }

    /** A deploy refused by the CLI never reaches the node: this listener must see no connection. */
    private void assertDeployRefusedBeforeContactingAnyNode(Path signed, String hostVars, String... expected)
            throws Exception {
        try (ServerSocket node = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Path inventory = Files.writeString(dir.resolve("hosts.ini"), "[web]\nweb1 ansible_host=127.0.0.1"
                    + " pinfleet_agent_port=" + node.getLocalPort() + hostVars + "\n");
            for (String[] extra : new String[][] {{}, {"--trusted", trusted.toString()}}) {
                String[] args = new String[] {"deploy", signed.toString(), "--inventory", inventory.toString(),
                        "--plaintext", "--report", dir.resolve("report.json").toString(), "--progress", "plain",
                        "--node-timeout", "5"}; // bounds a run of code that does contact the node
                String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.Arrays.stream(extra))
                        .toArray(String[]::new);
                Run d = cli(NOW, all);
                assertEquals(1, d.code(), d.all());
                for (String e : expected) {
                    assertTrue(d.err().contains(e), "'" + e + "' not in: " + d.err());
                }
                assertFalse(d.out().contains("deploying"), d.out());
            }
            assertFalse(Files.exists(dir.resolve("report.json")), "no deploy, no report");
            // The CLI has returned: a connection it made would be waiting in the backlog already. The second of
            // waiting only gives a scheduler-delayed accept time; it cannot turn a contacted node into a pass.
            node.setSoTimeout(1000);
            assertThrows(SocketTimeoutException.class, node::accept, "the node was contacted");
        }
    }

    @Test
    void deployRefusesAnExpiredManifestBeforeContactingAnyNode() throws Exception {
        assertDeployRefusedBeforeContactingAnyNode(signedBeforeExpiry(""), "",
                "manifest for app shop serial 7 expired at " + EXPIRY);
    }

    @Test
    void deployRefusesAManifestForAnotherEnvironmentThanTheInventoryGivesANode() throws Exception {
        Instant valid = Instant.parse("2026-12-06T17:00:00Z");
        Path m = manifest("m.json", valid, "staging");
        Path signed = dir.resolve("m.signed.json");
        assertEquals(0, cli(NOW, "sign", m.toString(), "-k", key.toString(), "-o", signed.toString()).code());
        assertDeployRefusedBeforeContactingAnyNode(signed, " pinfleet_agent_environment=production",
                "manifest is bound to environment 'staging', not environment 'production' (node web1)");
    }
}

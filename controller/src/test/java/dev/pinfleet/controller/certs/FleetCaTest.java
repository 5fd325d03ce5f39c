package dev.pinfleet.controller.certs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.trust.FleetRole;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fleet CA's certificates as a third party sees them: the real {@code openssl} command (it comes with the
 * ca-certificates package the JDK depends on) verifies the issued chain and shows the names, key usages and
 * algorithms that ControllerTls and the agent's TLS rely on.
 */
class FleetCaTest {
    @TempDir Path dir;

    private static String openssl(Path cwd, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl did not finish: " + cmd);
        return "exit " + p.exitValue() + "\n" + out;
    }

    private FleetCa ca(Path where, Clock clock) throws IOException {
        return FleetCa.init(where, "pinfleet fleet CA", Duration.ofDays(3650), clock);
    }

    @Test
    void opensslVerifiesTheIssuedChainAndSeesEveryProperty() throws Exception {
        FleetCa ca = ca(dir, Clock.systemUTC());
        ca.issue("agent", "web1", List.of("127.0.0.1", "web1.internal", "::1"), Duration.ofDays(825), null,
                Clock.systemUTC());
        ca.issue("controller", "controller", List.of(), Duration.ofDays(825), null, Clock.systemUTC());
        ca.issue("operator", "alice", List.of(), Duration.ofDays(825), null, Clock.systemUTC());

        assertEquals("exit 0\nweb1.crt: OK\n", openssl(dir, "verify", "-CAfile", "ca.crt", "-purpose", "sslserver",
                "web1.crt"));
        assertEquals("exit 0\nweb1.crt: OK\n", openssl(dir, "verify", "-CAfile", "ca.crt", "-purpose", "sslclient",
                "web1.crt"));
        assertEquals("exit 0\ncontroller.crt: OK\n", openssl(dir, "verify", "-CAfile", "ca.crt", "-purpose",
                "sslclient", "controller.crt"));
        assertEquals("exit 0\ncontroller.crt: OK\n", openssl(dir, "verify", "-CAfile", "ca.crt", "-purpose",
                "sslserver", "controller.crt"), "a served controller serves operators");
        assertEquals("exit 0\nalice.crt: OK\n", openssl(dir, "verify", "-CAfile", "ca.crt", "-purpose", "sslclient",
                "alice.crt"));
        String asServer = openssl(dir, "verify", "-CAfile", "ca.crt", "-purpose", "sslserver", "alice.crt");
        assertTrue(asServer.startsWith("exit 2") && asServer.contains("unsuitable certificate purpose"),
                "an operator certificate is no TLS server's: " + asServer);

        String agent = openssl(dir, "x509", "-in", "web1.crt", "-noout", "-text");
        for (String expected : List.of("Signature Algorithm: ecdsa-with-SHA256", "Issuer: O = pinfleet, CN = pinfleet fleet CA",
                "Subject: O = pinfleet, CN = web1", "ASN1 OID: prime256v1", "X509v3 Basic Constraints: critical\n"
                + "                CA:FALSE", "X509v3 Key Usage: critical\n                Digital Signature\n",
                "TLS Web Server Authentication, TLS Web Client Authentication",
                "URI:pinfleet:role:agent", "DNS:web1", "IP Address:127.0.0.1", "DNS:web1.internal", "IP Address:0:0:0:0:0:0:0:1",
                "X509v3 Subject Key Identifier", "X509v3 Authority Key Identifier")) {
            assertTrue(agent.contains(expected), "'" + expected + "' not in:\n" + agent);
        }
        String controller = openssl(dir, "x509", "-in", "controller.crt", "-noout", "-text");
        assertTrue(controller.contains("URI:pinfleet:role:controller") && controller.contains("DNS:controller")
                && controller.contains("TLS Web Server Authentication, TLS Web Client Authentication"), controller);
        String operator = openssl(dir, "x509", "-in", "alice.crt", "-noout", "-text");
        assertTrue(operator.contains("URI:pinfleet:role:operator") && operator.contains("CN = alice")
                && operator.contains("TLS Web Client Authentication")
                && !operator.contains("TLS Web Server Authentication"), operator);
        String root = openssl(dir, "x509", "-in", "ca.crt", "-noout", "-text");
        assertTrue(root.contains("CA:TRUE, pathlen:0") && root.contains("Certificate Sign, CRL Sign")
                && root.contains("Subject: O = pinfleet, CN = pinfleet fleet CA"), root);
        // the agent's key is the one its certificate names, and openssl reads it as PKCS#8
        assertTrue(Files.readString(dir.resolve("web1.key")).startsWith("-----BEGIN PRIVATE KEY-----\n"));
        assertEquals(openssl(dir, "x509", "-in", "web1.crt", "-noout", "-pubkey"),
                openssl(dir, "pkey", "-in", "web1.key", "-pubout"));
        for (String key : List.of("ca.key", "web1.key", "controller.key")) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(key))), key);
        }
    }

    @Test
    void opensslRefusesACertificateOfAnotherCa() throws Exception {
        ca(dir.resolve("a"), Clock.systemUTC());
        ca(dir.resolve("b"), Clock.systemUTC()).issue("agent", "web1", List.of(), Duration.ofDays(1), dir,
                Clock.systemUTC());
        String out = openssl(dir, "verify", "-CAfile", "a/ca.crt", "web1.crt");
        assertTrue(out.startsWith("exit 2") && out.contains("unable to get local issuer certificate"), out);
    }

    @Test
    void validityFollowsTheClockWithFiveMinutesOfSkew() throws Exception {
        Instant now = Instant.parse("2026-12-05T17:52:00Z");
        Clock clock = Clock.fixed(now, ZoneOffset.UTC);
        FleetCa ca = ca(dir, clock);
        ca.issue("agent", "web1", List.of(), Duration.ofDays(825), null, clock);
        X509Certificate c = Pem.certificates(dir.resolve("web1.crt")).get(0);
        assertEquals(now.minus(Duration.ofMinutes(5)), c.getNotBefore().toInstant());
        assertEquals(now.plus(Duration.ofDays(825)), c.getNotAfter().toInstant());
        assertEquals(now.plus(Duration.ofDays(3650)), ca.certificate().getNotAfter().toInstant());
        c.verify(ca.certificate().getPublicKey());
        assertNotEquals(c.getSerialNumber(), ca.certificate().getSerialNumber());
        assertTrue(c.getSerialNumber().signum() > 0);
        // a reloaded CA issues certificates that chain to the same root
        FleetCa.load(dir).issue("controller", "controller", List.of(), Duration.ofDays(1), null, clock);
        Pem.certificates(dir.resolve("controller.crt")).get(0).verify(ca.certificate().getPublicKey());
    }

    @Test
    void everyRoleIssuesACertificateThatCarriesItAndNothingElseIsARole() throws Exception {
        FleetCa ca = ca(dir, Clock.systemUTC());
        for (FleetRole role : FleetRole.values()) {
            Path crt = ca.issue(role.id(), "n-" + role.id(), List.of(), Duration.ofDays(1), null, Clock.systemUTC());
            X509Certificate c = Pem.certificates(crt).get(0);
            assertEquals(role.id(), FleetRole.of(c));
            assertEquals(role.server(), c.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.1"), role + " serverAuth");
            assertTrue(c.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.2"), role + " clientAuth");
        }
        IOException e = assertThrows(IOException.class,
                () -> ca.issue("admin", "x", List.of(), Duration.ofDays(1), null, Clock.systemUTC()));
        assertEquals("role 'admin' is not one of " + FleetRole.ids(), e.getMessage());
        assertEquals("", FleetRole.of(ca.certificate()), "the CA itself has no role");
    }

    @Test
    void keysAreNeverOverwrittenAndBadPemFilesAreNamed() throws Exception {
        FleetCa ca = ca(dir, Clock.systemUTC());
        ca.issue("agent", "web1", List.of(), Duration.ofDays(1), null, Clock.systemUTC());
        String key = Files.readString(dir.resolve("web1.key"));
        IOException again = assertThrows(IOException.class,
                () -> ca.issue("agent", "web1", List.of(), Duration.ofDays(1), null, Clock.systemUTC()));
        assertTrue(again.getMessage().contains("exists already; not overwriting"), again.getMessage());
        assertEquals(key, Files.readString(dir.resolve("web1.key")));
        assertTrue(assertThrows(IOException.class, () -> ca(dir, Clock.systemUTC())).getMessage()
                .contains("already holds a fleet CA"));

        Path notPem = Files.writeString(dir.resolve("junk.pem"), "hello\n");
        assertEquals(notPem + ": no PEM certificate (BEGIN CERTIFICATE) in it",
                assertThrows(IOException.class, () -> Pem.certificates(notPem)).getMessage());
        assertEquals(notPem + ": not a PEM private key (BEGIN PRIVATE KEY)",
                assertThrows(IOException.class, () -> Pem.privateKey(notPem)).getMessage());
        assertTrue(assertThrows(IOException.class, () -> Pem.privateKey(dir.resolve("web1.crt"))).getMessage()
                .contains("not a PEM private key"));
        // openssl's own SEC 1 form ("BEGIN EC PRIVATE KEY") is read too
        String sec1 = openssl(dir, "ec", "-in", "web1.key", "-out", "web1-sec1.key");
        assertTrue(sec1.startsWith("exit 0"), sec1);
        assertEquals(((ECPrivateKey) Pem.privateKey(dir.resolve("web1.key"))).getS(),
                ((ECPrivateKey) Pem.privateKey(dir.resolve("web1-sec1.key"))).getS());
    }
}

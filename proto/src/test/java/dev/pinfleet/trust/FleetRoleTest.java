package dev.pinfleet.trust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The role contract read from real X.509 certificates, made by the JDK's own {@code keytool} with the
 * subjectAltNames under test: exactly one {@code pinfleet:role:} URI grants a role; none, two, or the text only in
 * another kind of name grants nothing.
 */
class FleetRoleTest {
    @TempDir
    Path dir;

    @Test
    void namesAndUrisAreTheContractWithPinfleetCerts() {
        assertEquals("controller", FleetRole.CONTROLLER.id());
        assertEquals("pinfleet:role:agent", FleetRole.AGENT.uri());
        assertTrue(FleetRole.AGENT.server());
        assertTrue(FleetRole.CONTROLLER.server());
        assertFalse(FleetRole.OPERATOR.server());
        assertEquals(Optional.of(FleetRole.AGENT), FleetRole.parse("agent"));
        assertEquals(Optional.of(FleetRole.CONTROLLER), FleetRole.parse("controller"));
        assertEquals(Optional.of(FleetRole.OPERATOR), FleetRole.parse("operator"));
        assertEquals(Optional.empty(), FleetRole.parse("AGENT"));
        assertEquals(Optional.empty(), FleetRole.parse("admin"));
        assertEquals(List.of("controller", "agent", "operator"), FleetRole.ids());
        List<String> completion = new ArrayList<>();
        new FleetRole.Ids().forEach(completion::add);
        assertEquals(List.of("controller", "agent", "operator"), completion);
    }

    @Test
    void exactlyOneRoleUriGrantsThatRoleAndNoneOrTwoGrantNothing() throws Exception {
        // keytool is a JVM start each (seconds on a busy machine): four certificates cover the rule
        assertEquals("auditor", FleetRole.of(certificate("san=dns:web1,uri:pinfleet:role:auditor")),
                "the text after the prefix, uninterpreted: a role this build does not know included");
        assertEquals("", FleetRole.of(certificate(null)), "no subjectAltName at all");
        assertEquals("", FleetRole.of(certificate("san=dns:web1,uri:https://pinfleet/role")));
        assertEquals("", FleetRole.of(certificate("san=uri:pinfleet:role:agent,uri:pinfleet:role:controller")));
    }

    /** A self-signed certificate from keytool with the given {@code -ext} value (none when null). */
    private X509Certificate certificate(String ext) throws Exception {
        Path store = dir.resolve("c" + System.nanoTime() + ".p12");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-keystore", store.toString(), "-storetype", "PKCS12", "-storepass", "changeit",
                "-alias", "c", "-keyalg", "EC", "-dname", "CN=test", "-validity", "2"));
        if (ext != null) {
            cmd.addAll(List.of("-ext", ext));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool did not finish");
        if (p.exitValue() != 0) {
            throw new IOException("keytool " + cmd + ": " + out);
        }
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, "changeit".toCharArray());
        }
        return (X509Certificate) ks.getCertificate("c");
    }
}

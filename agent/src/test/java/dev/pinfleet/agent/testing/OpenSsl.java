package dev.pinfleet.agent.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes a fleet's certificates with the {@code openssl} command (OpenSSL 3: {@code req -x509 -CA}), EC P-256,
 * with the role as the subjectAltName URI {@code pinfleet:role:ROLE}, as {@code pinfleet certs} writes them. Fails
 * (never skips) when openssl is missing: it comes with the ca-certificates package the JDK depends on.
 */
public final class OpenSsl {
    private static final String CONFIG = String.join("\n",
            "[req]", "distinguished_name = dn", "prompt = no", "[dn]", "CN = unused",
            "[ca]", "basicConstraints = critical,CA:TRUE", "keyUsage = critical,keyCertSign,cRLSign",
            "subjectKeyIdentifier = hash",
            "[agent]", "basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
            "extendedKeyUsage = serverAuth,clientAuth",
            "subjectAltName = DNS:n1,IP:127.0.0.1,URI:pinfleet:role:agent",
            "[controller]", "basicConstraints = critical,CA:FALSE", "keyUsage = critical,digitalSignature",
            "extendedKeyUsage = clientAuth", "subjectAltName = URI:pinfleet:role:controller", "");

    private final Path dir;
    private final Path config;

    public OpenSsl(Path dir) throws IOException {
        this.dir = dir;
        this.config = Files.writeString(dir.resolve("openssl.cnf"), CONFIG);
    }

    /** A self-signed CA: {@code name.crt}, {@code name.key}. */
    public void ca(String name) throws IOException {
        run(name, "ca", List.of());
    }

    /** A certificate for {@code name} with the extensions of {@code section}, signed by {@code ca}. */
    public void issue(String ca, String name, String section) throws IOException {
        run(name, section, List.of("-CA", dir.resolve(ca + ".crt").toString(),
                "-CAkey", dir.resolve(ca + ".key").toString()));
    }

    private void run(String name, String section, List<String> signer) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + name,
                "-config", config.toString(), "-extensions", section,
                "-keyout", dir.resolve(name + ".key").toString(), "-out", dir.resolve(name + ".crt").toString()));
        cmd.addAll(signer);
        try {
            TestWheels.run(cmd);
        } catch (IOException e) {
            throw new IOException("cannot make test certificates with openssl (Debian package openssl, OpenSSL"
                    + " 3 or later): " + e.getMessage(), e);
        }
    }
}

package dev.pinfleet.controller.certs;

import dev.pinfleet.trust.FleetRole;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The fleet's certificate authority in a directory: {@code ca.crt} and {@code ca.key}; it issues
 * {@code NAME.crt}/{@code NAME.key} pairs (EC P-256) whose role ({@link FleetRole}) is the subjectAltName URI
 * {@code pinfleet:role:ROLE}. Every certificate carries its NAME as a DNS subjectAltName (for an agent, its inventory
 * name, which the controller checks) and clientAuth; roles that serve (agents, and the controller, which serves
 * operators when it runs as a service) carry serverAuth as well.
 */
public final class FleetCa {
    private final Path dir;
    private final X509Certificate cert;
    private final PrivateKey key;

    private FleetCa(Path dir, X509Certificate cert, PrivateKey key) {
        this.dir = dir;
        this.cert = cert;
        this.key = key;
    }

    public static Path certFile(Path dir) {
        return dir.resolve("ca.crt");
    }

    /** Creates a new CA in {@code dir}; refuses when one is there already. */
    public static FleetCa init(Path dir, String name, Duration validity, Clock clock) throws IOException {
        if (Files.exists(dir.resolve("ca.key")) || Files.exists(certFile(dir))) {
            throw new IOException(dir + ": already holds a fleet CA (ca.crt / ca.key); not overwriting it");
        }
        try {
            KeyPair kp = newKey();
            Instant now = clock.instant();
            X509Certificate c = new CertBuilder().commonName(name).validity(now.minus(Duration.ofMinutes(5)),
                    now.plus(validity)).ca().sign(kp.getPublic(), null, kp.getPrivate());
            Pem.writeNew(dir.resolve("ca.key"), Pem.privateKey(kp.getPrivate()), true);
            Pem.writeNew(certFile(dir), Pem.certificate(c), false);
            return new FleetCa(dir, c, kp.getPrivate());
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot create the fleet CA: " + e.getMessage(), e);
        }
    }

    public static FleetCa load(Path dir) throws IOException {
        if (!Files.isRegularFile(dir.resolve("ca.key"))) {
            throw new IOException(dir + ": no ca.key; create the fleet CA with 'pinfleet certs init " + dir + "'");
        }
        return new FleetCa(dir, Pem.certificates(certFile(dir)).get(0), Pem.privateKey(dir.resolve("ca.key")));
    }

    public X509Certificate certificate() {
        return cert;
    }

    /**
     * Issues {@code NAME.crt} and {@code NAME.key} in the CA's directory (or {@code out}) for {@code role}, with
     * {@code NAME} and {@code extraNames} as DNS names (IP literals become IP addresses).
     */
    public Path issue(String role, String name, List<String> extraNames, Duration validity, Path out, Clock clock)
            throws IOException {
        FleetRole fleetRole = FleetRole.parse(role)
                .orElseThrow(() -> new IOException("role '" + role + "' is not one of " + FleetRole.ids()));
        if (!name.matches("[A-Za-z0-9]([A-Za-z0-9.-]{0,252})")) {
            throw new IOException("name '" + name + "' is not a host name (letters, digits, '.', '-')");
        }
        Path target = out == null ? dir : out;
        Path crt = target.resolve(name + ".crt");
        Path keyFile = target.resolve(name + ".key");
        if (Files.exists(crt) || Files.exists(keyFile)) {
            throw new IOException(crt + " or " + keyFile + " exists already; not overwriting");
        }
        try {
            KeyPair kp = newKey();
            Instant now = clock.instant();
            CertBuilder b = new CertBuilder().commonName(name)
                    .validity(now.minus(Duration.ofMinutes(5)), now.plus(validity))
                    .role(fleetRole).dns(name);
            for (String n : extraNames) {
                if (n.matches("[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*")) {
                    b.ip(InetAddress.getByName(n));
                } else {
                    b.dns(n);
                }
            }
            X509Certificate c = b.sign(kp.getPublic(), cert, key);
            Pem.writeNew(keyFile, Pem.privateKey(kp.getPrivate()), true);
            Pem.writeNew(crt, Pem.certificate(c), false);
            return crt;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot issue a certificate for " + name + ": " + e.getMessage(), e);
        }
    }

    private static KeyPair newKey() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }
}

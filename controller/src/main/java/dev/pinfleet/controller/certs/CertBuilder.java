package dev.pinfleet.controller.certs;

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Builds and signs X.509 v3 certificates for EC P-256 keys (ecdsa-with-SHA256), with the extensions a fleet
 * needs: basicConstraints, keyUsage, extendedKeyUsage, subjectAltName (DNS, IP, URI) and key identifiers.
 */
final class CertBuilder {
    private static final String ECDSA_SHA256 = "1.2.840.10045.4.3.2";
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    private String commonName;
    private Instant notBefore;
    private Instant notAfter;
    private boolean ca;
    private boolean serverAuth;
    private boolean clientAuth;
    private final List<String> dnsNames = new ArrayList<>();
    private final List<InetAddress> ips = new ArrayList<>();
    private final List<String> uris = new ArrayList<>();

    CertBuilder commonName(String cn) {
        this.commonName = cn;
        return this;
    }

    CertBuilder validity(Instant from, Instant to) {
        this.notBefore = from;
        this.notAfter = to;
        return this;
    }

    CertBuilder ca() {
        this.ca = true;
        return this;
    }

    CertBuilder serverAuth() {
        this.serverAuth = true;
        return this;
    }

    CertBuilder clientAuth() {
        this.clientAuth = true;
        return this;
    }

    CertBuilder dns(String name) {
        dnsNames.add(name);
        return this;
    }

    CertBuilder ip(InetAddress a) {
        ips.add(a);
        return this;
    }

    CertBuilder uri(String u) {
        uris.add(u);
        return this;
    }

    /** Signs a certificate for {@code subjectKey} with {@code issuerKey}; self-signed when issuer is null. */
    X509Certificate sign(PublicKey subjectKey, X509Certificate issuer, PrivateKey issuerKey)
            throws GeneralSecurityException {
        byte[] algorithm = Der.seq(Der.oid(ECDSA_SHA256));
        byte[] subject = name(commonName);
        byte[] issuerName = issuer == null ? subject : issuer.getSubjectX500Principal().getEncoded();
        byte[] ski = keyId(subjectKey);
        byte[] aki = issuer == null ? ski : keyId(issuer.getPublicKey());
        List<byte[]> ext = new ArrayList<>();
        ext.add(extension("2.5.29.19", true, ca ? Der.seq(Der.bool(true), Der.integer(BigInteger.ZERO)) : Der.seq()));
        ext.add(extension("2.5.29.15", true, ca ? Der.namedBits(0x06, 1) : Der.namedBits(0x80, 7)));
        if (serverAuth || clientAuth) {
            List<byte[]> ekus = new ArrayList<>();
            if (serverAuth) {
                ekus.add(Der.oid(SERVER_AUTH));
            }
            if (clientAuth) {
                ekus.add(Der.oid(CLIENT_AUTH));
            }
            ext.add(extension("2.5.29.37", false, Der.seq(ekus.toArray(byte[][]::new))));
        }
        List<byte[]> sans = new ArrayList<>();
        dnsNames.forEach(d -> sans.add(Der.ctx(2, false, d.getBytes(StandardCharsets.US_ASCII))));
        ips.forEach(a -> sans.add(Der.ctx(7, false, a.getAddress())));
        uris.forEach(u -> sans.add(Der.ctx(6, false, u.getBytes(StandardCharsets.US_ASCII))));
        if (!sans.isEmpty()) {
            ext.add(extension("2.5.29.17", false, Der.seq(sans.toArray(byte[][]::new))));
        }
        ext.add(extension("2.5.29.14", false, Der.octets(ski)));
        ext.add(extension("2.5.29.35", false, Der.seq(Der.ctx(0, false, aki))));
        byte[] serial = new byte[16];
        new SecureRandom().nextBytes(serial);
        serial[0] &= 0x7f;
        byte[] tbs = Der.seq(
                Der.ctx(0, true, Der.integer(BigInteger.TWO)),
                Der.integer(new BigInteger(1, serial)),
                algorithm,
                issuerName,
                Der.seq(Der.time(notBefore), Der.time(notAfter)),
                subject,
                subjectKey.getEncoded(),
                Der.ctx(3, true, Der.seq(ext.toArray(byte[][]::new))));
        Signature s = Signature.getInstance("SHA256withECDSA");
        s.initSign(issuerKey);
        s.update(tbs);
        byte[] cert = Der.seq(tbs, algorithm, Der.bits(s.sign()));
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(cert));
    }

    private static byte[] name(String cn) {
        return Der.seq(Der.set(Der.seq(Der.oid("2.5.4.10"), Der.utf8("pinfleet"))),
                Der.set(Der.seq(Der.oid("2.5.4.3"), Der.utf8(cn))));
    }

    private static byte[] extension(String oid, boolean critical, byte[] value) {
        return critical ? Der.seq(Der.oid(oid), Der.bool(true), Der.octets(value))
                : Der.seq(Der.oid(oid), Der.octets(value));
    }

    /** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. */
    private static byte[] keyId(PublicKey key) throws GeneralSecurityException {
        byte[] spki = key.getEncoded();
        // The BIT STRING is the last element of the SubjectPublicKeyInfo; for P-256 it is the final 66 bytes.
        byte[] bits = Arrays.copyOfRange(spki, spki.length - 65, spki.length);
        return MessageDigest.getInstance("SHA-1").digest(bits);
    }
}

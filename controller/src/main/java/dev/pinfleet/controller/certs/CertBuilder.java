package dev.pinfleet.controller.certs;

import dev.pinfleet.trust.FleetRole;
import java.math.BigInteger;
import java.net.InetAddress;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * The fleet's X.509 v3 certificates, built and signed with BouncyCastle (ecdsa-with-SHA256, by the JDK's own
 * provider): subject {@code O=pinfleet, CN=NAME}, a random 127-bit serial, and the extensions a fleet needs —
 * basicConstraints and keyUsage (critical), extendedKeyUsage, subjectAltName (DNS, IP, URI) and key identifiers.
 */
final class CertBuilder {
    private String commonName;
    private Instant notBefore;
    private Instant notAfter;
    private boolean ca;
    private final List<KeyPurposeId> purposes = new ArrayList<>();
    private final List<GeneralName> altNames = new ArrayList<>();

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

    /** An end-entity certificate of {@code role}: its URI, clientAuth, and serverAuth where the role serves. */
    CertBuilder role(FleetRole role) {
        uri(role.uri());
        if (role.server()) {
            purposes.add(KeyPurposeId.id_kp_serverAuth);
        }
        purposes.add(KeyPurposeId.id_kp_clientAuth);
        return this;
    }

    CertBuilder dns(String name) {
        altNames.add(new GeneralName(GeneralName.dNSName, name));
        return this;
    }

    CertBuilder ip(InetAddress a) {
        altNames.add(new GeneralName(GeneralName.iPAddress, a.getHostAddress()));
        return this;
    }

    CertBuilder uri(String u) {
        altNames.add(new GeneralName(GeneralName.uniformResourceIdentifier, u));
        return this;
    }

    /** Signs a certificate for {@code subjectKey} with {@code issuerKey}; self-signed when issuer is null. */
    X509Certificate sign(PublicKey subjectKey, X509Certificate issuer, PrivateKey issuerKey)
            throws GeneralSecurityException {
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "pinfleet").addRDN(BCStyle.CN, commonName).build();
        X500Name issuerName = issuer == null ? subject : X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
        byte[] serial = new byte[16];
        new SecureRandom().nextBytes(serial);
        serial[0] &= 0x7f;
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName, new BigInteger(1, serial),
                Date.from(notBefore), Date.from(notAfter), subject, subjectKey);
        JcaX509ExtensionUtils ids = new JcaX509ExtensionUtils(); // RFC 5280 method 1: SHA-1 of the key's bits
        try {
            b.addExtension(Extension.basicConstraints, true, ca ? new BasicConstraints(0) : new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(ca ? KeyUsage.keyCertSign | KeyUsage.cRLSign
                    : KeyUsage.digitalSignature));
            if (!purposes.isEmpty()) {
                b.addExtension(Extension.extendedKeyUsage, false,
                        new ExtendedKeyUsage(purposes.toArray(KeyPurposeId[]::new)));
            }
            if (!altNames.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(altNames.toArray(GeneralName[]::new)));
            }
            b.addExtension(Extension.subjectKeyIdentifier, false, ids.createSubjectKeyIdentifier(subjectKey));
            b.addExtension(Extension.authorityKeyIdentifier, false, ids.createAuthorityKeyIdentifier(
                    issuer == null ? subjectKey : issuer.getPublicKey()));
            return new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
        } catch (CertIOException | OperatorCreationException e) {
            throw new GeneralSecurityException("cannot build the certificate for " + commonName + ": " + e.getMessage(), e);
        }
    }
}

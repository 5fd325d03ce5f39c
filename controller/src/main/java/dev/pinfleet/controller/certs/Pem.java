package dev.pinfleet.controller.certs;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/**
 * PEM files, read and written with BouncyCastle: certificates, and private keys written as PKCS#8 ({@code BEGIN
 * PRIVATE KEY}, what Netty and openssl read; mode 0600, never over an existing file).
 */
public final class Pem {
    private Pem() {}

    /** A certificate as PEM text. */
    static String certificate(X509Certificate c) throws IOException {
        return encode(c);
    }

    /** A private key as unencrypted PKCS#8 PEM text. */
    static String privateKey(PrivateKey key) throws IOException {
        return encode(new JcaPKCS8Generator(key, null));
    }

    private static String encode(Object o) throws IOException {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(text)) {
            w.writeObject(o);
        }
        return text.toString();
    }

    /** Writes {@code text} to a new {@code file} (refused when it exists); {@code secret}: mode 0600 from the start. */
    static void writeNew(Path file, String text, boolean secret) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        if (secret) {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        Files.writeString(tmp, text, StandardCharsets.US_ASCII, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        Files.move(tmp, file); // fails when the file exists: a key is never overwritten
    }

    /** Every certificate in a PEM file, in order; the message names the file. */
    public static List<X509Certificate> certificates(Path file) throws IOException {
        List<X509Certificate> out = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        for (Object o : objects(file)) {
            if (o instanceof X509CertificateHolder h) {
                try {
                    out.add(converter.getCertificate(h));
                } catch (CertificateException e) {
                    throw new IOException(file + ": not a valid certificate: " + e.getMessage(), e);
                }
            }
        }
        if (out.isEmpty()) {
            throw new IOException(file + ": no PEM certificate (BEGIN CERTIFICATE) in it");
        }
        return out;
    }

    /** The EC private key in a PEM file: PKCS#8 ({@code BEGIN PRIVATE KEY}) or SEC 1 ({@code BEGIN EC PRIVATE KEY}). */
    public static PrivateKey privateKey(Path file) throws IOException {
        for (Object o : objects(file)) {
            PrivateKeyInfo info = o instanceof PrivateKeyInfo i ? i : o instanceof PEMKeyPair p ? p.getPrivateKeyInfo() : null;
            if (info != null) {
                try {
                    PrivateKey k = new JcaPEMKeyConverter().getPrivateKey(info);
                    if (!k.getAlgorithm().equals("EC")) {
                        throw new IOException(file + ": a " + k.getAlgorithm() + " key, not an EC key");
                    }
                    return k;
                } catch (PEMException e) {
                    throw new IOException(file + ": not a usable private key: " + e.getMessage(), e);
                }
            }
        }
        throw new IOException(file + ": not a PEM private key (BEGIN PRIVATE KEY)");
    }

    private static List<Object> objects(Path file) throws IOException {
        List<Object> out = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r)) {
            for (Object o = p.readObject(); o != null; o = p.readObject()) {
                out.add(o);
            }
        } catch (IOException e) {
            if (!Files.isReadable(file)) {
                throw new IOException(file + ": cannot read: " + e.getMessage(), e);
            }
            throw new IOException(file + ": not a PEM file: " + e.getMessage(), e);
        }
        return out;
    }
}

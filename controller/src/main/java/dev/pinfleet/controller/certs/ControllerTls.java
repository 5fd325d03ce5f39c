package dev.pinfleet.controller.certs;

import dev.pinfleet.trust.FleetRole;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The controller's side of mutual TLS: presents its controller certificate and accepts an agent only when its
 * certificate chains to the fleet CA, carries the agent role and names the agent's inventory name (the channel's
 * authority) as a DNS subjectAltName.
 */
public final class ControllerTls {
    private final SslContext context;
    private final Path cert;

    private ControllerTls(SslContext context, Path cert) {
        this.context = context;
        this.cert = cert;
    }

    /** Loads cert, key and CA (PEM); the message names the file that is wrong. */
    public static ControllerTls load(Path cert, Path key, Path ca) throws IOException {
        List<X509Certificate> mine = Pem.certificates(cert);
        String role = FleetRole.of(mine.get(0));
        if (!role.equals(FleetRole.CONTROLLER.id())) {
            throw new IOException(cert + ": has role '" + role + "', not controller (issue one with"
                    + " 'pinfleet certs issue --role controller NAME')");
        }
        Pem.privateKey(key);
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            for (X509Certificate c : Pem.certificates(ca)) {
                ks.setCertificateEntry("ca" + i++, c);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            X509ExtendedTrustManager pkix = null;
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x) {
                    pkix = x;
                }
            }
            SslContext ctx = GrpcSslContexts.forClient().keyManager(cert.toFile(), key.toFile())
                    .trustManager(new AgentTrust(pkix)).protocols("TLSv1.3", "TLSv1.2").build();
            return new ControllerTls(ctx, cert);
        } catch (SSLException | GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException("TLS: cannot use cert " + cert + ", key " + key + ", CA " + ca + ": " + e.getMessage(), e);
        }
    }

    public SslContext context() {
        return context;
    }

    public Path certificate() {
        return cert;
    }

    /** Checks the agent's chain against the CA (with the JDK's host-name check), then its role and DNS name. */
    static final class AgentTrust extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager pkix;

        AgentTrust(X509ExtendedTrustManager pkix) {
            this.pkix = pkix;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            pkix.checkServerTrusted(chain, authType, engine);
            check(chain[0], engine == null ? null : engine.getPeerHost());
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("agent connections go through an SSLEngine");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("the agent's inventory name is needed to check its certificate");
        }

        private static void check(X509Certificate leaf, String expected) throws CertificateException {
            String role = FleetRole.of(leaf);
            if (!role.equals(FleetRole.AGENT.id())) {
                throw new CertificateException("certificate '" + leaf.getSubjectX500Principal().getName()
                        + "' has role '" + (role.isEmpty() ? "none" : role) + "', not agent");
            }
            if (expected == null) {
                throw new CertificateException("no inventory name to check the agent's certificate against");
            }
            var sans = leaf.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (Integer.valueOf(2).equals(san.get(0))
                            && expected.toLowerCase(Locale.ROOT).equals(String.valueOf(san.get(1)).toLowerCase(Locale.ROOT))) {
                        return;
                    }
                }
            }
            throw new CertificateException("agent certificate '" + leaf.getSubjectX500Principal().getName()
                    + "' is not for inventory name '" + expected + "' (its DNS names: " + sans + ")");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("the controller accepts no clients");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("the controller accepts no clients");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("the controller accepts no clients");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return pkix.getAcceptedIssuers();
        }
    }
}

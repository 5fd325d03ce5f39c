package dev.pinfleet.agent.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.List;

/**
 * The role a fleet certificate grants, written by {@code pinfleet certs issue} as a subjectAltName URI
 * {@code pinfleet:role:ROLE} (ROLE is {@code controller} or {@code agent}).
 */
public final class PeerRole {
    /** Prefix of the subjectAltName URI that carries the role. */
    public static final String URI_PREFIX = "pinfleet:role:";
    /** The role of the operator's pinfleet command. */
    public static final String CONTROLLER = "controller";
    /** The role of an agent. */
    public static final String AGENT = "agent";

    private PeerRole() {}

    /** The role in the certificate, or "" when it carries none (or more than one). */
    public static String of(X509Certificate cert) {
        String role = "";
        try {
            Collection<List<?>> sans = cert.getSubjectAlternativeNames();
            if (sans == null) {
                return "";
            }
            for (List<?> san : sans) {
                if (Integer.valueOf(6).equals(san.get(0)) && san.get(1) instanceof String uri
                        && uri.startsWith(URI_PREFIX)) {
                    if (!role.isEmpty()) {
                        return "";
                    }
                    role = uri.substring(URI_PREFIX.length());
                }
            }
        } catch (CertificateParsingException e) {
            return "";
        }
        return role;
    }
}

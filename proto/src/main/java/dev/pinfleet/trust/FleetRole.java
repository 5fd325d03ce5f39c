package dev.pinfleet.trust;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The roles a fleet certificate grants, written as the subjectAltName URI {@code pinfleet:role:NAME} (NAME is the
 * constant in lower case): the contract between {@code pinfleet certs}, which issues them, the controller, which
 * checks an agent's, and the agent, which authorizes each method by role. A new role is one more constant here;
 * {@code pinfleet certs issue --role} and {@link #of} take it from this list.
 */
public enum FleetRole {
    /**
     * The controller: dials agents (inside the operator's {@code pinfleet}, or as {@code pinfleet controller serve},
     * which also serves operators, under a DNS name or address operators dial): a TLS client and server.
     */
    CONTROLLER(true),
    /** An agent: serves the controller (its inventory name is a DNS name the controller checks) and is a client too. */
    AGENT(true),
    /** A person or CI using a served controller: the name in the certificate is the operator in its records. */
    OPERATOR(false);

    /** Prefix of the subjectAltName URI that carries the role. */
    public static final String URI_PREFIX = "pinfleet:role:";

    private final boolean server;

    FleetRole(boolean server) {
        this.server = server;
    }

    /** The name in certificates and on the command line: {@code controller}, {@code agent}, {@code operator}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The subjectAltName URI that grants this role. */
    public String uri() {
        return URI_PREFIX + id();
    }

    /** Whether certificates of this role also authenticate a TLS server (extendedKeyUsage serverAuth). */
    public boolean server() {
        return server;
    }

    /** The role named {@code id}, or empty. */
    public static Optional<FleetRole> parse(String id) {
        return Arrays.stream(values()).filter(r -> r.id().equals(id)).findFirst();
    }

    /** Every role's name, for messages and help. */
    public static List<String> ids() {
        return Arrays.stream(values()).map(FleetRole::id).toList();
    }

    /**
     * The role URI in a certificate without interpreting it: the text after {@code pinfleet:role:}, or "" when the
     * certificate carries no role URI or more than one.
     */
    public static String of(X509Certificate c) {
        String role = "";
        try {
            var sans = c.getSubjectAlternativeNames();
            if (sans == null) {
                return "";
            }
            for (List<?> san : sans) {
                if (Integer.valueOf(6).equals(san.get(0)) && san.get(1) instanceof String u && u.startsWith(URI_PREFIX)) {
                    if (!role.isEmpty()) {
                        return "";
                    }
                    role = u.substring(URI_PREFIX.length());
                }
            }
        } catch (CertificateParsingException e) {
            return "";
        }
        return role;
    }

    /** The role names for picocli's {@code ${COMPLETION-CANDIDATES}}. */
    public static final class Ids implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return ids().iterator();
        }
    }
}

package dev.pinfleet.agent.tls;

import dev.pinfleet.trust.FleetRole;
import java.security.cert.X509Certificate;

/**
 * The role a fleet certificate grants, written by {@code pinfleet certs issue} as a subjectAltName URI
 * {@code pinfleet:role:ROLE}; the roles and the parsing are {@link FleetRole}'s, shared with the controller.
 */
public final class PeerRole {
    /** Prefix of the subjectAltName URI that carries the role. */
    public static final String URI_PREFIX = FleetRole.URI_PREFIX;
    /** The role of the operator's pinfleet command. */
    public static final String CONTROLLER = FleetRole.CONTROLLER.id();
    /** The role of an agent. */
    public static final String AGENT = FleetRole.AGENT.id();

    private PeerRole() {}

    /** The role in the certificate, or "" when it carries none (or more than one). */
    public static String of(X509Certificate cert) {
        return FleetRole.of(cert);
    }
}

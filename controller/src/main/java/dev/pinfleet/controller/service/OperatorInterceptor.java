package dev.pinfleet.controller.service;

import dev.pinfleet.trust.FleetRole;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.X509Certificate;
import java.util.logging.Logger;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Who calls the controller: the operator named in the client certificate (role {@code operator} of the fleet CA,
 * checked by the TLS handshake, its common name the operator in every record), or, for the embedded controller
 * inside the CLI, the local user running it. A certificate of another role (an agent's, the controller's own) is
 * refused with PERMISSION_DENIED; a connection without one never gets past the handshake.
 */
public final class OperatorInterceptor implements ServerInterceptor {
    private static final Logger LOG = Logger.getLogger(OperatorInterceptor.class.getName());
    /** The role an operator's certificate carries. */
    public static final String ROLE = FleetRole.OPERATOR.id();
    /** The calling operator, for the service's methods. */
    static final Context.Key<String> OPERATOR = Context.key("pinfleet-operator");

    private final String localUser;

    private OperatorInterceptor(String localUser) {
        this.localUser = localUser;
    }

    /** Operators by their client certificates. */
    public static OperatorInterceptor certificates() {
        return new OperatorInterceptor(null);
    }

    /** The embedded controller: every call is the local user's. */
    public static OperatorInterceptor localUser(String name) {
        return new OperatorInterceptor(name);
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String operator = localUser;
        if (operator == null) {
            SSLSession ssl = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
            X509Certificate peer = null;
            try {
                peer = ssl == null ? null : (X509Certificate) ssl.getPeerCertificates()[0];
            } catch (SSLPeerUnverifiedException | ClassCastException | ArrayIndexOutOfBoundsException e) {
                peer = null;
            }
            if (peer == null) {
                return refuse(call, Status.UNAUTHENTICATED, "no client certificate: an operator certificate of the"
                        + " fleet CA is required (pinfleet certs issue --role operator NAME)");
            }
            String role = FleetRole.of(peer);
            if (!role.equals(ROLE)) {
                return refuse(call, Status.PERMISSION_DENIED, "client '" + peer.getSubjectX500Principal().getName()
                        + "' has role '" + (role.isEmpty() ? "none" : role) + "', but the controller's API needs role "
                        + ROLE + " (pinfleet certs issue --role operator NAME)");
            }
            operator = commonName(peer);
        }
        return Contexts.interceptCall(Context.current().withValue(OPERATOR, operator), call, headers, next);
    }

    static String commonName(X509Certificate c) {
        try {
            for (Rdn rdn : new LdapName(c.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
        } catch (InvalidNameException e) {
            // fall through: the whole subject names the operator
        }
        return c.getSubjectX500Principal().getName();
    }

    private <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status, String why) {
        LOG.warning("refused call to " + call.getMethodDescriptor().getFullMethodName() + ": " + why + " (from "
                + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + ")");
        call.close(status.withDescription("controller: " + why), new Metadata());
        return new ServerCall.Listener<>() { };
    }
}

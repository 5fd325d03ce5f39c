package dev.pinfleet.agent.tls;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The one place the agent decides who may call what: each gRPC method is mapped to the roles allowed to call it;
 * a method missing from the map is refused for everybody. The caller's role comes from its client certificate
 * (already checked against the fleet CA by the TLS handshake); see {@link PeerRole}. In plaintext development
 * mode (loopback only, see AgentConfig) there is no certificate and callers count as the controller.
 */
public final class RoleInterceptor implements ServerInterceptor {
    private static final Logger LOG = Logger.getLogger(RoleInterceptor.class.getName());

    private static final Map<String, Set<String>> ROLES = Map.of(
            AgentServiceGrpc.getDeployMethod().getFullMethodName(), Set.of(PeerRole.CONTROLLER),
            AgentServiceGrpc.getStatusMethod().getFullMethodName(), Set.of(PeerRole.CONTROLLER),
            AgentServiceGrpc.getPlanMethod().getFullMethodName(), Set.of(PeerRole.CONTROLLER),
            AgentServiceGrpc.getReleaseManifestMethod().getFullMethodName(), Set.of(PeerRole.CONTROLLER),
            AgentServiceGrpc.getCancelMethod().getFullMethodName(), Set.of(PeerRole.CONTROLLER));

    /**
     * Who the current call comes from, for records that must name them (a cancelled deploy's error): the subject of
     * the client certificate with its role, or in plaintext mode the peer address.
     */
    public static final Context.Key<String> CALLER = Context.key("pinfleet-caller");

    private final String node;
    private final boolean plaintext;

    public RoleInterceptor(String node, boolean plaintext) {
        this.node = node;
        this.plaintext = plaintext;
    }

    /** Full names of the methods this interceptor lets some role call (tests compare them with the registered ones). */
    public static Set<String> authorizedMethods() {
        return ROLES.keySet();
    }

    /** Roles allowed to call a method (empty when none). */
    public static Set<String> rolesFor(String fullMethodName) {
        return ROLES.getOrDefault(fullMethodName, Set.of());
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        Set<String> allowed = rolesFor(method);
        if (allowed.isEmpty()) {
            return refuse(call, Status.PERMISSION_DENIED, "method " + method + " is not open to any role");
        }
        if (plaintext) {
            return Contexts.interceptCall(Context.current().withValue(CALLER, "plaintext client "
                    + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)), call, headers, next);
        }
        SSLSession ssl = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
        if (ssl == null) {
            return refuse(call, Status.UNAUTHENTICATED, "no TLS session; a client certificate of the fleet CA is required");
        }
        X509Certificate peer;
        try {
            Certificate[] chain = ssl.getPeerCertificates();
            peer = (X509Certificate) chain[0];
        } catch (SSLPeerUnverifiedException | ClassCastException | ArrayIndexOutOfBoundsException e) {
            return refuse(call, Status.UNAUTHENTICATED, "no client certificate");
        }
        String role = PeerRole.of(peer);
        if (!allowed.contains(role)) {
            return refuse(call, Status.PERMISSION_DENIED, "client '" + peer.getSubjectX500Principal().getName()
                    + "' has role '" + (role.isEmpty() ? "none" : role) + "', but " + method + " needs role "
                    + String.join(" or ", allowed));
        }
        return Contexts.interceptCall(Context.current().withValue(CALLER, role + " '"
                + peer.getSubjectX500Principal().getName() + "'"), call, headers, next);
    }

    private <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, Status status, String why) {
        String msg = "node " + node + ": " + why;
        LOG.warning("refused call: " + msg + " (from " + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + ")");
        call.close(status.withDescription(msg), new Metadata());
        return new ServerCall.Listener<>() { };
    }
}

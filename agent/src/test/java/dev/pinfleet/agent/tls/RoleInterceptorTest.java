package dev.pinfleet.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.OpenSsl;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import io.grpc.Attributes;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.Status;
import java.io.InputStream;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Set;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's one authorization decision, on calls whose TLS session carries real certificates of a fleet made by
 * {@code openssl}: which methods are open to which role, and for each way a call can arrive (plaintext development
 * mode, no TLS session, no client certificate, a certificate with another role or none, the controller's) whether
 * it goes through, with which caller, or is closed with which status and message.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RoleInterceptorTest {
    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40000);
    private Certificate controller;
    private Certificate agent;
    private Certificate ca;

    @BeforeAll
    void makeCertificates(@TempDir Path dir) throws Exception {
        OpenSsl ssl = new OpenSsl(dir);
        ssl.ca("ca");
        ssl.issue("ca", "n2", "agent");
        ssl.issue("ca", "ctl", "controller");
        controller = read(dir.resolve("ctl.crt"));
        agent = read(dir.resolve("n2.crt"));
        ca = read(dir.resolve("ca.crt"));
    }

    private static Certificate read(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /** A call as the transport hands it over: its method, its attributes, and how it was closed (if it was). */
    private static final class Call extends ServerCall<Object, Object> {
        private final MethodDescriptor<?, ?> method;
        private final Attributes attributes;
        Status closed;

        @SuppressWarnings("unchecked")
        Call(MethodDescriptor<?, ?> method, Attributes attributes) {
            this.method = method;
            this.attributes = attributes;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void sendHeaders(Metadata headers) {}

        @Override
        public void sendMessage(Object message) {}

        @Override
        public void close(Status status, Metadata trailers) {
            closed = status;
        }

        @Override
        public boolean isCancelled() {
            return false;
        }

        @Override
        public Attributes getAttributes() {
            return attributes;
        }

        @Override
        @SuppressWarnings("unchecked")
        public MethodDescriptor<Object, Object> getMethodDescriptor() {
            return (MethodDescriptor<Object, Object>) method;
        }
    }

    /** What the service saw: null when the call never reached it, else the caller the interceptor named. */
    private String reached;
    private boolean started;
    /** The caller the service's listener saw when the call's half-close was delivered to it; null when never. */
    private String halfClosedAs;
    /** The listener the interceptor returned for the last call: gRPC delivers the call's messages to it. */
    private ServerCall.Listener<Object> listener;

    private final ServerCallHandler<Object, Object> service = (call, headers) -> {
        started = true;
        reached = RoleInterceptor.CALLER.get();
        return new ServerCall.Listener<>() {
            @Override
            public void onHalfClose() {
                halfClosedAs = RoleInterceptor.CALLER.get();
            }
        };
    };

    private Call call(MethodDescriptor<?, ?> method, boolean plaintext, SSLSession session) {
        Attributes.Builder a = Attributes.newBuilder().set(Grpc.TRANSPORT_ATTR_REMOTE_ADDR, PEER);
        if (session != null) {
            a.set(Grpc.TRANSPORT_ATTR_SSL_SESSION, session);
        }
        Call call = new Call(method, a.build());
        started = false;
        reached = null;
        halfClosedAs = null;
        listener = new RoleInterceptor("n1", plaintext).interceptCall(call, new Metadata(), service);
        assertNotNull(listener, "gRPC fails a call whose interceptor returns no listener");
        listener.onMessage("request");
        listener.onHalfClose();
        return call;
    }

    /** A TLS session whose peer presented {@code chain}; an empty chain is a peer that presented none. */
    private static SSLSession session(Certificate... chain) {
        return (SSLSession) Proxy.newProxyInstance(RoleInterceptorTest.class.getClassLoader(),
                new Class<?>[] {SSLSession.class}, (proxy, m, args) -> {
                    if (m.getName().equals("getPeerCertificates")) {
                        if (chain.length == 0) {
                            throw new SSLPeerUnverifiedException("peer not authenticated");
                        }
                        return chain;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    private static void assertClosed(Call call, Status.Code code, String message) {
        assertEquals(code, call.closed.getCode());
        assertEquals(message, call.closed.getDescription());
    }

    @Test
    void everyAgentMethodIsOpenToTheControllerOnly() {
        Set<String> methods = Set.of(AgentServiceGrpc.getDeployMethod().getFullMethodName(),
                AgentServiceGrpc.getStatusMethod().getFullMethodName(),
                AgentServiceGrpc.getPlanMethod().getFullMethodName(),
                AgentServiceGrpc.getReleaseManifestMethod().getFullMethodName(),
                AgentServiceGrpc.getCancelMethod().getFullMethodName());
        assertEquals(methods, RoleInterceptor.authorizedMethods());
        for (String m : methods) {
            assertEquals(Set.of(PeerRole.CONTROLLER), RoleInterceptor.rolesFor(m), m);
        }
        assertEquals(Set.of(), RoleInterceptor.rolesFor("pinfleet.v1.AgentService/Shell"));
    }

    @Test
    void theControllersCertificateReachesTheServiceNamedByRoleAndSubject() {
        Call call = call(AgentServiceGrpc.getDeployMethod(), false, session(controller, ca));
        assertNull(call.closed);
        assertTrue(started);
        assertEquals("controller 'CN=ctl'", reached);
        assertEquals("controller 'CN=ctl'", halfClosedAs, "the request reaches the service's listener, as the caller");
    }

    @Test
    void aMethodInNoRolesMapIsRefusedEvenToTheControllerAndInPlaintext() {
        MethodDescriptor<?, ?> shell = AgentServiceGrpc.getDeployMethod().toBuilder()
                .setFullMethodName("pinfleet.v1.AgentService/Shell").build();
        for (boolean plaintext : new boolean[] {false, true}) {
            Call call = call(shell, plaintext, session(controller));
            assertClosed(call, Status.Code.PERMISSION_DENIED,
                    "node n1: method pinfleet.v1.AgentService/Shell is not open to any role");
            assertTrue(!started, "the service never sees it");
        }
    }

    @Test
    void anAgentsCertificateOrOneWithoutARoleIsRefusedNamingSubjectRoleAndTheRoleNeeded() {
        Call asAgent = call(AgentServiceGrpc.getStatusMethod(), false, session(agent, ca));
        assertClosed(asAgent, Status.Code.PERMISSION_DENIED, "node n1: client 'CN=n2' has role 'agent', but "
                + "pinfleet.v1.AgentService/Status needs role controller");
        assertTrue(!started);
        assertNull(halfClosedAs, "a refused call's request reaches no listener of the service");
        Call noRole = call(AgentServiceGrpc.getCancelMethod(), false, session(ca));
        assertClosed(noRole, Status.Code.PERMISSION_DENIED, "node n1: client 'CN=ca' has role 'none', but "
                + "pinfleet.v1.AgentService/Cancel needs role controller");
        assertTrue(!started);
    }

    @Test
    void withoutATlsSessionOrAClientCertificateTheCallIsUnauthenticated() {
        Call noSession = call(AgentServiceGrpc.getDeployMethod(), false, null);
        assertClosed(noSession, Status.Code.UNAUTHENTICATED,
                "node n1: no TLS session; a client certificate of the fleet CA is required");
        assertTrue(!started);
        Call noCertificate = call(AgentServiceGrpc.getDeployMethod(), false, session());
        assertClosed(noCertificate, Status.Code.UNAUTHENTICATED, "node n1: no client certificate");
        assertTrue(!started);
    }

    @Test
    void plaintextModeLetsAMappedMethodThroughNamingThePeerAddress() {
        Call call = call(AgentServiceGrpc.getPlanMethod(), true, null);
        assertNull(call.closed);
        assertEquals("plaintext client " + PEER, reached);
        assertEquals("plaintext client " + PEER, halfClosedAs);
    }
}

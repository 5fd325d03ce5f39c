package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.LogCapture;
import dev.pinfleet.agent.testing.OpenSsl;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.tls.RoleInterceptor;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.StatusRequest;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threat model, <b>Transport</b>: who may talk to an agent, and how much a peer can make it hold. One real agent with
 * mutual TLS on loopback (certificates made by the {@code openssl} command, as {@code pinfleet certs} would make
 * them: a fleet CA, the agent's certificate with role agent, a controller's with role controller, and a second CA
 * with its own controller) is on release 1. Each refusal case then tries to deploy release 2 and asserts the call's
 * status and description, that `current` did not move, that the mirror was not asked for release 2's wheel, and that
 * the agent root holds nothing half-written ({@link CleanRoot}); then that a real controller is still served.
 * Slow-loris connections are held against small grpc-handshake-timeout and grpc-max-connection-idle settings.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(60)
class TransportThreatTest {
    private static final String APP = "shop";
    /**
     * grpc-handshake-timeout and grpc-max-connection-idle of the agent under test. The slow-loris case must open 30
     * connections (10 TLS handshakes) and get a controller served before the first of them times out: about a second
     * on an idle machine, so 8 s leave a busy one seven seconds to spare.
     */
    private static final long TIMEOUT_MS = 8_000;

    private Path dir;
    private Path certs;
    private FakeMirror mirror;
    private TestFleet fleet;
    private Agent agent;
    private Artifact v1;
    private Artifact v2;
    private String before;
    private final AtomicLong serial = new AtomicLong();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();

    @BeforeAll
    void startTlsAgentOnReleaseOne(@TempDir Path tmp) throws Exception {
        dir = tmp;
        certs = Files.createDirectories(dir.resolve("certs"));
        OpenSsl ssl = new OpenSsl(certs);
        ssl.ca("ca");
        ssl.issue("ca", "n1", "agent");
        ssl.issue("ca", "controller", "controller");
        ssl.ca("other-ca");
        ssl.issue("other-ca", "other-controller", "controller");

        mirror = FakeMirror.start();
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        v1 = publish(TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n").build(wheels));
        v2 = publish(TestWheels.wheel("shoplib", "2.0").file("shoplib/__init__.py", "V = 2\n").build(wheels));
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        String python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        agent = fleet.start("n1", Map.of("python", python, "plaintext", "false",
                "tls-cert", certs.resolve("n1.crt").toString(), "tls-key", certs.resolve("n1.key").toString(),
                "tls-ca", certs.resolve("ca.crt").toString(),
                "grpc-handshake-timeout", TIMEOUT_MS + "ms", "grpc-max-connection-idle", TIMEOUT_MS + "ms"));
        DeployReport r = deploy(controller(), v1);
        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
        before = CleanRoot.current(fleet.root("n1"), APP);
        assertNotNull(before);
    }

    @AfterAll
    void stop() throws Exception {
        for (ManagedChannel ch : channels) {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        for (Socket s : sockets) {
            s.close();
        }
        if (fleet != null) {
            fleet.close();
        }
        if (mirror != null) {
            mirror.close();
        }
    }

    @Test
    void clientWithoutACertificateIsRefusedInTheHandshake() throws Exception {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> deploy(channel(GrpcSslContexts.forClient().trustManager(certs.resolve("ca.crt").toFile())), v2));

        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), "the TLS handshake fails: " + e.getStatus());
        assertTrue(causes(e).contains("Received fatal alert: bad_certificate")
                || causes(e).contains("Received fatal alert: certificate_required"), "the alert says why: " + causes(e));
        assertUntouchedAndStillServing();
    }

    @Test
    void aRefusedHandshakeIsLoggedOnTheAgentWithThePeerAndTheReason() throws Exception {
        try (LogCapture logged = LogCapture.of("dev.pinfleet.agent.net.GatedServerChannel")) {
            assertThrows(StatusRuntimeException.class, () -> deploy(channel(GrpcSslContexts.forClient()
                    .trustManager(certs.resolve("ca.crt").toFile()).keyManager(
                            certs.resolve("other-controller.crt").toFile(),
                            certs.resolve("other-controller.key").toFile())), v2));
            // the agent logs as the refused connection closes (bounded: 10 s)
            logged.awaitAny(10);
            assertTrue(logged.records().stream().anyMatch(r -> r.getLevel() == Level.INFO && r.getMessage().matches(
                    "node n1: refused the TLS handshake of /127\\.0\\.0\\.1:\\d+: \\w+: .+")),
                    "an INFO line names the peer and the reason: " + logged.messages());
        }
        assertUntouchedAndStillServing();
    }

    @Test
    void clientCertificateOfAnotherCaIsRefusedInTheHandshake() throws Exception {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> deploy(channel(
                GrpcSslContexts.forClient().trustManager(certs.resolve("ca.crt").toFile()).keyManager(
                        certs.resolve("other-controller.crt").toFile(), certs.resolve("other-controller.key").toFile())),
                v2));

        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), "the TLS handshake fails: " + e.getStatus());
        assertTrue(causes(e).contains("Received fatal alert: certificate_unknown")
                || causes(e).contains("Received fatal alert: unknown_ca")
                || causes(e).contains("Received fatal alert: bad_certificate"), "the alert says why: " + causes(e));
        assertUntouchedAndStillServing();
    }

    @Test
    void clientWithTheWrongRoleIsRefusedWithPermissionDenied() throws Exception {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> deploy(agentRole(), v2));

        assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
        assertEquals("node n1: client 'CN=n1' has role 'agent', but pinfleet.v1.AgentService/Deploy needs role"
                + " controller", e.getStatus().getDescription());
        assertUntouchedAndStillServing();
    }

    @Test
    void everyServedMethodChecksTheCallersRole() throws Exception {
        Set<String> served = agent.registeredMethods();
        assertEquals(served, new TreeSet<>(RoleInterceptor.authorizedMethods()),
                "every method the agent serves has a role rule, and no rule names a method it does not serve");
        ManagedChannel wrongRole = agentRole();
        for (String method : served) {
            Status s = call(wrongRole, method);
            assertEquals(Status.Code.PERMISSION_DENIED, s.getCode(), method + ": " + s);
            assertEquals("node n1: client 'CN=n1' has role 'agent', but " + method + " needs role controller",
                    s.getDescription());
        }
        Status unknown = call(controller(), "pinfleet.v1.AgentService/Shell");
        assertEquals(Status.Code.UNIMPLEMENTED, unknown.getCode(), "a method the agent does not serve: " + unknown);
        assertUntouchedAndStillServing();
    }

    @Test
    void deployRequestOverTheMessageCapIsRefusedAndTheAgentKeepsServing() throws Exception {
        ManagedChannel ch = controller();
        SignedManifest huge = SignedManifest.newBuilder().setPayloadType("application/vnd.pinfleet.manifest+json")
                .setPayload(ByteString.copyFrom(new byte[Agent.MAX_INBOUND_BYTES + 1024])).build();

        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> AgentServiceGrpc
                .newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                .deploy(DeployRequest.newBuilder().setManifest(huge).setDeployId("huge").build()).hasNext());

        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains(Integer.toString(Agent.MAX_INBOUND_BYTES)),
                "names the cap: " + e.getStatus().getDescription());
        assertEquals("n1", AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance()).getNode(), "the same connection is served again");
        assertUntouchedAndStillServing();
    }

    @Test
    void slowLorisConnectionsAreClosedByTheHandshakeAndIdleTimeoutsWhileAControllerIsServed() throws Exception {
        int held = 10;
        List<Socket> silent = new ArrayList<>();
        List<Socket> halfHello = new ArrayList<>();
        List<Socket> halfPreface = new ArrayList<>();
        SSLContext controllerTls = jdkContext("controller");
        long t0 = System.nanoTime();
        for (int i = 0; i < held; i++) {
            silent.add(connect()); // TCP only, not a byte
            Socket hello = connect();
            // a TLS record header announcing a 512-byte handshake message, and only 5 bytes of it
            write(hello, new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03});
            halfHello.add(hello);
            SSLSocket tls = (SSLSocket) controllerTls.getSocketFactory().createSocket(connect(), "n1", agent.port(),
                    true);
            SSLParameters p = tls.getSSLParameters();
            p.setApplicationProtocols(new String[] {"h2"});
            tls.setSSLParameters(p);
            tls.startHandshake(); // a real controller certificate: the handshake completes
            assertEquals("h2", tls.getApplicationProtocol());
            write(tls, "PRI * HTTP/2.0\r\n".getBytes(StandardCharsets.US_ASCII)); // 16 of the 24 preface bytes
            sockets.add(tls);
            halfPreface.add(tls);
        }

        assertEquals("n1", AgentServiceGrpc.newBlockingStub(controller()).withDeadlineAfter(10, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance()).getNode(), "a controller is served meanwhile");
        long servedMs = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(servedMs < TIMEOUT_MS, "set-up and call took " + servedMs + " ms, longer than the timeouts");
        assertTrue(allOpen(silent), "the silent connections were still held while the controller was served");
        assertTrue(allOpen(halfHello), "the half handshakes were still held while the controller was served");
        assertTrue(allOpen(halfPreface), "the half prefaces were still held while the controller was served");

        for (List<Socket> kind : List.of(silent, halfHello, halfPreface)) {
            for (Socket s : kind) {
                assertClosedByAgent(s);
            }
        }
        long closedMs = (System.nanoTime() - t0) / 1_000_000;
        // Every connection was opened after t0, so its timeout cannot end before t0 + TIMEOUT_MS (a busy machine can
        // only make that later; 100 ms for timer granularity). The upper bound only says the timeouts closed them,
        // not the end of the test: 30 s of slack.
        assertTrue(closedMs >= TIMEOUT_MS - 100, "closed by the timeouts, not at once: " + closedMs + " ms");
        assertTrue(closedMs < TIMEOUT_MS + 30_000, "closed within the timeouts of " + TIMEOUT_MS + " ms: " + closedMs);
        assertUntouchedAndStillServing();
    }

    // --- helpers

    private Artifact publish(Path wheel) throws IOException {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    /** `current` unchanged, release 2's wheel never asked for, a clean root, and a controller is served. */
    private void assertUntouchedAndStillServing() throws IOException {
        assertEquals(before, CleanRoot.current(fleet.root("n1"), APP), "`current` must not move");
        assertEquals(0, mirror.requests(v2.getPath()), "nothing was fetched for the refused deploy");
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
        assertEquals("n1", AgentServiceGrpc.newBlockingStub(controller()).withDeadlineAfter(10, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance()).getNode(), "the agent still serves a controller");
    }

    private DeployReport deploy(ManagedChannel ch, Artifact wheel) {
        SignedManifest m = fleet.sign(TestFleet.manifest(APP, serial.incrementAndGet(), List.of(wheel)).build());
        Iterator<DeployEvent> it = AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS)
                .deploy(DeployRequest.newBuilder().setManifest(m).setDeployId("threat").build());
        DeployReport report = null;
        while (it.hasNext()) {
            DeployEvent e = it.next();
            if (e.hasReport()) {
                report = e.getReport();
            }
        }
        return report;
    }

    private ManagedChannel channel(SslContextBuilder tls) throws IOException {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", agent.port()).overrideAuthority("n1")
                .sslContext(tls.build()).build();
        channels.add(ch);
        return ch;
    }

    private ManagedChannel controller() throws IOException {
        return channel(GrpcSslContexts.forClient().trustManager(certs.resolve("ca.crt").toFile())
                .keyManager(certs.resolve("controller.crt").toFile(), certs.resolve("controller.key").toFile()));
    }

    /** A client with the agent's own certificate: of the fleet CA, but with role agent. */
    private ManagedChannel agentRole() throws IOException {
        return channel(GrpcSslContexts.forClient().trustManager(certs.resolve("ca.crt").toFile())
                .keyManager(certs.resolve("n1.crt").toFile(), certs.resolve("n1.key").toFile()));
    }

    /** Calls {@code fullMethodName} with an empty request (raw bytes, any method) and returns how it closed. */
    private static Status call(ManagedChannel ch, String fullMethodName) throws Exception {
        MethodDescriptor.Marshaller<byte[]> raw = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(byte[] value) {
                return new ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(InputStream stream) {
                try {
                    return stream.readAllBytes();
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
        MethodDescriptor<byte[], byte[]> md = MethodDescriptor.<byte[], byte[]>newBuilder(raw, raw)
                .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName(fullMethodName).build();
        ClientCall<byte[], byte[]> c = ch.newCall(md, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
        CompletableFuture<Status> closed = new CompletableFuture<>();
        c.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
            }
        }, new Metadata());
        c.request(1);
        c.sendMessage(new byte[0]);
        c.halfClose();
        return closed.get(15, TimeUnit.SECONDS);
    }

    /** The status description and the messages of its causes, for the reason of a failed handshake. */
    private static String causes(StatusRuntimeException e) {
        StringBuilder b = new StringBuilder(String.valueOf(e.getStatus().getDescription()));
        for (Throwable t = e.getStatus().getCause(); t != null; t = t.getCause()) {
            b.append(" <- ").append(t);
        }
        return b.toString();
    }

    private Socket connect() throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.connect(new InetSocketAddress("127.0.0.1", agent.port()), 5_000);
        return s;
    }

    private static void write(Socket s, byte[] bytes) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(bytes);
        out.flush();
    }

    /** True when none of {@code sockets} has been closed by the agent yet (reads time out instead of ending). */
    private static boolean allOpen(List<Socket> sockets) throws IOException {
        for (Socket s : sockets) {
            s.setSoTimeout(1);
            try {
                InputStream in = s.getInputStream();
                while (in.read() >= 0) {
                    // the agent's own HTTP/2 settings may be waiting: read past them
                }
                return false;
            } catch (SocketTimeoutException stillOpen) {
                // open
            } catch (SocketException reset) {
                return false;
            }
        }
        return true;
    }

    /** The agent closes {@code s} (end of stream or reset) within 30 s; whatever it sends first is read past. */
    private static void assertClosedByAgent(Socket s) throws IOException {
        s.setSoTimeout(30_000);
        try {
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            long got = 0;
            for (int n; (n = in.read(buf)) >= 0; ) {
                got += n;
                assertTrue(got < 65_536, "the agent keeps sending to a slow connection instead of closing it");
            }
        } catch (SocketTimeoutException e) {
            throw new AssertionError("a slow-loris connection was still open after 30 s: " + s, e);
        } catch (SocketException | javax.net.ssl.SSLException closed) {
            // reset or cut: closed as well
        }
    }

    /** A JDK TLS context with {@code name}'s certificate and key, trusting the fleet CA. */
    private SSLContext jdkContext(String name) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        Certificate cert;
        Certificate ca;
        try (InputStream in = Files.newInputStream(certs.resolve(name + ".crt"));
             InputStream caIn = Files.newInputStream(certs.resolve("ca.crt"))) {
            cert = cf.generateCertificate(in);
            ca = cf.generateCertificate(caIn);
        }
        String pem = Files.readString(certs.resolve(name + ".key"));
        byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
        PrivateKey key = KeyFactory.getInstance("EC").generatePrivate(new PKCS8EncodedKeySpec(der));
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry(name, key, new char[0], new Certificate[] {cert});
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        ts.setCertificateEntry("ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }
}

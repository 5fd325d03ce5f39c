package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.trust.FleetRole;
import dev.pinfleet.controller.certs.Pem;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutual TLS between the real CLI (and raw clients) and real agents on loopback, with certificates from `pinfleet certs`. */
class MutualTlsTest {
    @TempDir Path dir;
    FleetHarness h;
    Path ca;
    Path other;
    Agent web1;
    Agent web2;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        ca = dir.resolve("ca");
        other = dir.resolve("other-ca");
        for (String[] args : List.of(new String[] {"certs", "init", ca.toString()},
                new String[] {"certs", "issue", "--role", "controller", "controller", "--dir", ca.toString()},
                new String[] {"certs", "issue", "--role", "agent", "web1", "--dir", ca.toString(), "--san", "127.0.0.1"},
                new String[] {"certs", "issue", "--role", "agent", "web2", "--dir", ca.toString()},
                new String[] {"certs", "init", other.toString()},
                new String[] {"certs", "issue", "--role", "controller", "controller", "--dir", other.toString()})) {
            FleetHarness.Run r = h.cli(args);
            assertEquals(0, r.code(), r.all());
        }
        web1 = h.start("web1", tls("web1"));
        web2 = h.start("web2", tls("web2"));
    }

    private Map<String, String> tls(String name) {
        return Map.of("plaintext", "false", "tls-cert", ca.resolve(name + ".crt").toString(),
                "tls-key", ca.resolve(name + ".key").toString(), "tls-ca", ca.resolve("ca.crt").toString());
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    @Test
    void issuedCertificatesCarryRoleAndNameAndKeysArePrivate() throws Exception {
        X509Certificate agent = Pem.certificates(ca.resolve("web1.crt")).get(0);
        assertEquals("agent", FleetRole.of(agent));
        assertTrue(agent.getSubjectAlternativeNames().stream().anyMatch(s -> s.get(1).equals("web1")));
        assertTrue(agent.getSubjectAlternativeNames().stream().anyMatch(s -> s.get(1).equals("127.0.0.1")));
        agent.verify(Pem.certificates(ca.resolve("ca.crt")).get(0).getPublicKey());
        assertEquals("controller", FleetRole.of(Pem.certificates(ca.resolve("controller.crt")).get(0)));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(ca.resolve("ca.key"))));
        FleetHarness.Run again = h.cli("certs", "init", ca.toString());
        assertEquals(1, again.code());
        assertTrue(again.err().contains("already holds a fleet CA"), again.err());
    }

    @Test
    void theControllerDeploysAndAsksStatusOverMutualTls() throws Exception {
        Path inv = h.inventory("");
        Path report = dir.resolve("r.json");
        FleetHarness.Run d = h.cli("deploy", h.signed(h.manifest(1, h.app1)).toString(), "--inventory", inv.toString(),
                "--tls-dir", ca.toString(), "--report", report.toString(), "--progress", "plain");
        assertEquals(0, d.code(), d.all());
        assertTrue(d.out().contains("mutual TLS"), d.out());
        FleetReport r = dev.pinfleet.controller.Json.read(report, FleetReport.newBuilder()).build();
        assertTrue(r.getNodesList().stream().allMatch(n -> n.getOutcome() == NodeOutcome.NODE_OK), r.toString());
        // TLS files from the inventory's variables instead of flags
        Path inv2 = h.inventory("[all:vars]\npinfleet_tls_dir=" + ca + "\n");
        FleetHarness.Run s = h.cli("status", "--inventory", inv2.toString());
        assertEquals(0, s.code(), s.all());
        assertTrue(s.out().contains("2 node(s): 0 unreachable, 0 drifted"), s.out());
    }

    private StatusRuntimeException refused(SslContextBuilder client) throws Exception {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", web1.port()).overrideAuthority("web1")
                .sslContext(client.build()).build();
        try {
            return assertThrows(StatusRuntimeException.class, () -> AgentServiceGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(10, TimeUnit.SECONDS).status(StatusRequest.getDefaultInstance()));
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void clientsWithoutACertificateFromAnotherCaOrWithAnAgentsCertificateAreRefused() throws Exception {
        StatusRuntimeException none = refused(GrpcSslContexts.forClient().trustManager(ca.resolve("ca.crt").toFile()));
        assertEquals(Status.Code.UNAVAILABLE, none.getStatus().getCode(), "TLS handshake refused: no client certificate");

        StatusRuntimeException foreign = refused(GrpcSslContexts.forClient().trustManager(ca.resolve("ca.crt").toFile())
                .keyManager(other.resolve("controller.crt").toFile(), other.resolve("controller.key").toFile()));
        assertEquals(Status.Code.UNAVAILABLE, foreign.getStatus().getCode(), "a controller certificate of another CA");

        StatusRuntimeException wrongRole = refused(GrpcSslContexts.forClient().trustManager(ca.resolve("ca.crt").toFile())
                .keyManager(ca.resolve("web2.crt").toFile(), ca.resolve("web2.key").toFile()));
        assertEquals(Status.Code.PERMISSION_DENIED, wrongRole.getStatus().getCode());
        assertTrue(wrongRole.getStatus().getDescription().contains("has role 'agent', but pinfleet.v1.AgentService/Status"
                + " needs role controller"), wrongRole.getStatus().getDescription());

        // The real controller certificate gets in.
        ManagedChannel ok = NettyChannelBuilder.forAddress("127.0.0.1", web1.port()).overrideAuthority("web1")
                .sslContext(GrpcSslContexts.forClient().trustManager(ca.resolve("ca.crt").toFile())
                        .keyManager(ca.resolve("controller.crt").toFile(), ca.resolve("controller.key").toFile()).build())
                .build();
        try {
            assertEquals("web1", AgentServiceGrpc.newBlockingStub(ok).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .status(StatusRequest.getDefaultInstance()).getNode());
        } finally {
            ok.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void theControllerRefusesAnAgentWhoseCertificateIsForAnotherName() throws Exception {
        h.inventoryLines.clear();
        h.inventoryLines.put("web9", "web9 ansible_host=127.0.0.1 pinfleet_agent_port=" + web2.port());
        Path inv = h.inventory("");
        FleetHarness.Run s = h.cli("status", "--inventory", inv.toString(), "--tls-dir", ca.toString());
        assertEquals(1, s.code(), s.all());
        assertTrue(s.out().lines().anyMatch(l -> l.startsWith("web9 ") && l.contains("UNREACHABLE")), s.out());
        // The cause and the next step, not gRPC's "io exception" and its channel pipeline.
        assertTrue(s.out().contains("the agent's certificate does not name 'web9' (an agent's certificate must carry its"
                + " inventory name): reissue it with `pinfleet certs issue web9 --role agent`"), s.out());
        assertTrue(!s.out().contains("Channel Pipeline") && !s.out().contains("io exception"), s.out());

        FleetHarness.Run plain = h.cli("status", "--inventory", inv.toString(), "--plaintext");
        assertEquals(1, plain.code(), "a TLS agent does not speak plaintext");

        Path remote = dir.resolve("remote.ini");
        Files.writeString(remote, "[web]\nfar ansible_host=10.20.30.40\n");
        FleetHarness.Run refused = h.cli("status", "--inventory", remote.toString(), "--plaintext");
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("--plaintext is only for agents on loopback (development); far is at"
                + " 10.20.30.40:7400"), refused.err());
        FleetHarness.Run noTls = h.cli("status", "--inventory", remote.toString());
        assertTrue(noTls.err().contains("no TLS configuration to reach the agents"), noTls.err());
    }
}

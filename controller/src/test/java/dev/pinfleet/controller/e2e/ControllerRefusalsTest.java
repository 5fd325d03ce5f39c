package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.ControllerServiceGrpc;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Strategy;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.proto.v1.Target;
import dev.pinfleet.proto.v1.Targets;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the served controller refuses: callers without an operator certificate, and submissions an agent would
 * refuse (unsigned, untrusted, expired, bound to another environment), before any node is contacted.
 */
class ControllerRefusalsTest {
    @TempDir Path dir;
    FleetHarness h;
    ServedController served;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        h.start("web1", Map.of("environment", "production"));
        h.start("web2", Map.of("environment", "production"));
        served = ServedController.start(h, dir.resolve("served"), dir.resolve("records.db").toString());
    }

    @AfterEach
    void tearDown() throws Exception {
        served.close();
        h.close();
    }

    private StatusRuntimeException call(SslContextBuilder tls) throws Exception {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", served.port()).sslContext(tls.build()).build();
        try {
            return assertThrows(StatusRuntimeException.class, () -> ControllerServiceGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(30, TimeUnit.SECONDS).history(HistoryRequest.getDefaultInstance()));
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void onlyOperatorCertificatesOfTheFleetCaGetIn() throws Exception {
        Path pki = served.pki;
        SslContextBuilder trust = GrpcSslContexts.forClient().trustManager(pki.resolve("ca.crt").toFile());
        StatusRuntimeException none = call(trust);
        assertEquals(Status.Code.UNAVAILABLE, none.getStatus().getCode(), "no client certificate: no handshake");

        StatusRuntimeException agent = call(GrpcSslContexts.forClient().trustManager(pki.resolve("ca.crt").toFile())
                .keyManager(pki.resolve("web1.crt").toFile(), pki.resolve("web1.key").toFile()));
        assertEquals(Status.Code.PERMISSION_DENIED, agent.getStatus().getCode());
        assertTrue(agent.getStatus().getDescription().contains("has role 'agent', but the controller's API needs role"
                + " operator"), agent.getStatus().getDescription());

        StatusRuntimeException controller = call(GrpcSslContexts.forClient().trustManager(pki.resolve("ca.crt").toFile())
                .keyManager(pki.resolve("controller.crt").toFile(), pki.resolve("controller.key").toFile()));
        assertEquals(Status.Code.PERMISSION_DENIED, controller.getStatus().getCode(), "not even the controller's own");

        // The CLI says so before it connects, naming the file.
        List<String> withAgentCert = new ArrayList<>(List.of("history", "--controller", "127.0.0.1:" + served.port(),
                "--operator-cert", pki.resolve("web1.crt").toString(), "--operator-key", pki.resolve("web1.key").toString(),
                "--controller-ca", pki.resolve("ca.crt").toString()));
        FleetHarness.Run r = h.cli(withAgentCert.toArray(String[]::new));
        assertEquals(1, r.code());
        assertTrue(r.err().contains(pki.resolve("web1.crt") + ": has role 'agent', not operator"), r.err());
        FleetHarness.Run noCert = h.cli("history", "--controller", "127.0.0.1:" + served.port());
        assertEquals(1, noCert.code());
        assertTrue(noCert.err().contains("an operator certificate is needed"), noCert.err());

        // alice gets in, and the records name her.
        List<String> ok = new ArrayList<>(List.of("history"));
        ok.addAll(served.as("alice"));
        assertEquals(0, h.cli(ok.toArray(String[]::new)).code());
    }

    private Path write(String name, SignedManifest env) {
        Path f = dir.resolve(name);
        Json.write(f, env);
        return f;
    }

    @Test
    void manifestsAnAgentWouldRefuseAreRefusedBeforeAnyNodeIsContacted() throws Exception {
        Path inv = h.inventory("[web:vars]\npinfleet_agent_environment=production\n");
        Manifest good = h.manifest(1, h.app1).toBuilder().setEnvironment("production").build();
        byte[] payload = ManifestCodec.toJson(good);
        long past = System.currentTimeMillis() - 3_600_000;
        SignedManifest unsigned = SignedManifest.newBuilder().setPayload(com.google.protobuf.ByteString.copyFrom(payload))
                .setPayloadType(Envelope.MANIFEST_TYPE).build();
        SignedManifest untrusted = Envelope.sign(payload, List.of(Keys.generate()));
        SignedManifest expired = h.fleet.sign(good.toBuilder().setExpires(Timestamps.fromMillis(past))
                .setCreated(Timestamps.fromMillis(past - 1000)).build());
        SignedManifest staging = h.fleet.sign(good.toBuilder().setEnvironment("staging").build());
        String wrongEnvironment = "manifest is bound to environment 'staging', not environment 'production' (node web1,"
                + " node web2); freeze it again with the nodes' --environment";
        int before = h.mirror.requests();

        // Through the CLI: it checks what it can itself (expiry, environment; signatures with --trusted), the
        // controller what it holds the keys for; either way nothing is recorded and no node is contacted.
        Map<String, SignedManifest> cases = Map.of("unsigned", unsigned, "untrusted", untrusted, "expired", expired,
                "staging", staging);
        Map<String, String> why = Map.of("unsigned", "refused by the controller at 127.0.0.1:" + served.port()
                + ": the manifest is unsigned: 0 signatures", "untrusted", "refused by the controller at 127.0.0.1:"
                + served.port() + ": ", "expired", "expired at ", "staging", wrongEnvironment);
        for (String name : cases.keySet()) {
            Path file = write(name + ".json", cases.get(name));
            List<String> args = new ArrayList<>(List.of("deploy", file.toString(), "--inventory", inv.toString(),
                    "--plaintext"));
            args.addAll(served.as("alice"));
            FleetHarness.Run r = h.cli(args.toArray(String[]::new));
            assertEquals(1, r.code(), r.all());
            assertTrue(r.err().startsWith("pinfleet: " + file + ": ") && r.err().contains(why.get(name)),
                    name + ": " + r.err());
        }
        assertTrue(h.cli(withAlice(List.of("history", "--json"))).out().strip().equals("[]"), "nothing recorded");

        // Straight to the controller's API, as any client may: it makes the agents' checks itself.
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", served.port()).sslContext(GrpcSslContexts
                .forClient().trustManager(served.pki.resolve("ca.crt").toFile()).keyManager(
                        served.pki.resolve("alice.crt").toFile(), served.pki.resolve("alice.key").toFile()).build())
                .build();
        try {
            Targets targets = Targets.newBuilder().setInventory(inv.toString()).setPlaintext(true)
                    .addNodes(Target.newBuilder().setName("web1").setHost("127.0.0.1").setPort(h.agents.get("web1").port())
                            .setEnvironment("production"))
                    .addNodes(Target.newBuilder().setName("web2").setHost("127.0.0.1").setPort(h.agents.get("web2").port())
                            .setEnvironment("production")).build();
            Map<SignedManifest, String> direct = Map.of(unsigned, "the manifest is unsigned: 0 signatures",
                    untrusted, "signed by untrusted key(s)", expired, "expired at ", staging, wrongEnvironment);
            for (Map.Entry<SignedManifest, String> e : direct.entrySet()) {
                StatusRuntimeException x = assertThrows(StatusRuntimeException.class, () -> ControllerServiceGrpc
                        .newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS).submit(SubmitRequest.newBuilder()
                                .setManifest(e.getKey()).setTargets(targets).setStrategy(Strategy.newBuilder()
                                        .setBatch("100%").setMaxFailures("0").setForks(5).setNodeDeadlineSeconds(60)
                                        .setStuckSeconds(30)).build()));
                assertEquals(Status.Code.INVALID_ARGUMENT, x.getStatus().getCode());
                assertTrue(x.getStatus().getDescription().contains(e.getValue()), x.getStatus().getDescription());
            }
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        assertEquals(before, h.mirror.requests(), "no node fetched anything");
        for (String n : List.of("web1", "web2")) {
            assertFalse(Files.exists(h.fleet.root(n).resolve("apps")), n + " was never contacted");
        }
        assertEquals("[]", h.cli(withAlice(List.of("history", "--json"))).out().strip(), "no record of a refused submission");

        List<String> args = new ArrayList<>(List.of("deploy", write("good.json", h.fleet.sign(good)).toString(),
                "--inventory", inv.toString(), "--plaintext", "--progress", "plain"));
        FleetHarness.Run ok = h.cli(withAlice(args));
        assertEquals(0, ok.code(), ok.all());
    }

    private String[] withAlice(List<String> args) {
        List<String> all = new ArrayList<>(args);
        all.addAll(served.as("alice"));
        return all.toArray(String[]::new);
    }
}

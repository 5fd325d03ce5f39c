package dev.pinfleet.agent.testing;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Agents on loopback for tests: each with its own root under a temp directory, a random port,
 * real gRPC over Netty, one trusted signing key. AutoCloseable: closes every agent it started.
 */
public final class TestFleet implements AutoCloseable {
    private final Path dir;
    private final List<URI> mirrors;
    private final KeyPair key = Keys.generate();
    /** Agents may be started, and deploys run, in parallel (a thread per agent): both lists take concurrent adds. */
    private final List<Agent> agents = new CopyOnWriteArrayList<>();
    private final List<ManagedChannel> channels = new CopyOnWriteArrayList<>();

    public TestFleet(Path dir, URI... mirrors) throws IOException {
        this.dir = dir;
        this.mirrors = List.of(mirrors);
        Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(dir.resolve("trusted/release.pub"), key.getPublic());
    }

    public KeyPair key() {
        return key;
    }

    public Path trustedKeys() {
        return dir.resolve("trusted");
    }

    /**
     * Starts an agent named {@code node} with root {@code dir/node} on a free loopback port, plaintext unless
     * {@code extra} sets {@code plaintext=false} and the tls-* keys; {@code extra} overrides any config key.
     */
    public Agent start(String node, Map<String, String> extra) throws IOException {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", node);
        cfg.put("root", dir.resolve(node).toString());
        cfg.put("listen", "127.0.0.1:0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", trustedKeys().toString());
        cfg.put("mirrors", String.join(",", mirrors.stream().map(URI::toString).toList()));
        cfg.put("python", "python3");
        cfg.put("shutdown-seconds", "5");
        cfg.putAll(extra);
        AgentConfig config = AgentConfig.load(null, cfg);
        Agent a = new Agent(config, Clock.systemUTC()).start();
        agents.add(a);
        return a;
    }

    public Agent start(String node) throws IOException {
        return start(node, Map.of());
    }

    /** Stops one agent this fleet started (as {@link #close} would), e.g. to see it go missing from a scrape. */
    public void stop(Agent agent) {
        if (agents.remove(agent)) {
            agent.close();
        }
    }

    public Path root(String node) {
        return dir.resolve(node);
    }

    /** The release id `current` points at for an app on a node, or null. */
    public String current(String node, String app) throws IOException {
        Path link = root(node).resolve("apps").resolve(app).resolve("current");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    public static Manifest.Builder manifest(String app, long serial, List<Artifact> artifacts) {
        long now = System.currentTimeMillis();
        return Manifest.newBuilder().setApp(app).setSerial(serial).setPython(pythonVersion())
                .setCreated(Timestamps.fromMillis(now)).setExpires(Timestamps.fromMillis(now + 3_600_000))
                .addAllArtifacts(artifacts);
    }

    public SignedManifest sign(Manifest m) {
        return Envelope.sign(dev.pinfleet.manifest.ManifestCodec.toJson(m), List.of(key));
    }

    /** What one Deploy call streamed back. */
    public record Result(List<DeployEvent> events, DeployReport report) {}

    /** Calls Deploy over real gRPC on loopback and gathers the stream. */
    public Result deploy(Agent agent, SignedManifest envelope) {
        ManagedChannel ch = channel(agent);
        Iterator<DeployEvent> it = AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(120, TimeUnit.SECONDS)
                .deploy(DeployRequest.newBuilder().setManifest(envelope).setDeployId("test").build());
        List<DeployEvent> events = new ArrayList<>();
        DeployReport report = null;
        while (it.hasNext()) {
            DeployEvent e = it.next();
            events.add(e);
            if (e.hasReport()) {
                report = e.getReport();
            }
        }
        return new Result(events, report);
    }

    public ManagedChannel channel(Agent agent) {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", agent.port()).usePlaintext().build();
        channels.add(ch);
        return ch;
    }

    private static String cachedVersion;

    /** MAJOR.MINOR of the python3 on PATH. */
    public static synchronized String pythonVersion() {
        if (cachedVersion == null) {
            try {
                cachedVersion = TestWheels.run(List.of("python3", "-c",
                        "import sys; print('%d.%d' % sys.version_info[:2])")).strip();
            } catch (IOException e) {
                throw new IllegalStateException("python3 is needed for these tests", e);
            }
        }
        return cachedVersion;
    }

    @Override
    public void close() {
        for (ManagedChannel ch : channels) {
            ch.shutdownNow();
        }
        for (Agent a : agents) {
            a.close();
        }
    }
}

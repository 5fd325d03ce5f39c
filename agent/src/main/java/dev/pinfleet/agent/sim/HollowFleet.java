package dev.pinfleet.agent.sim;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.deploy.DeployEngine;
import dev.pinfleet.agent.deploy.StandIn;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.agent.net.AgentTransport;
import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.trust.TrustPolicy;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Thousands of simulated agents ("hollow nodes", as Kubernetes' kubemark and Nomad's nodesim) in one JVM: each node
 * is the real agent gRPC service ({@link Agent#serve}: the same service class, role check and limits) with its own
 * root, configuration, deploy engine and loopback port, on the agent's own Netty transport ({@link AgentTransport});
 * only the downloads and the build are replaced by a {@link StandIn}. All nodes share one accept loop, the Netty
 * event loops, one bounded pool of call threads and one progress timer, so the threads do not grow with the nodes
 * (a node's deploy holds a call thread while it runs: the pool bounds how many deploy at once). Plaintext on
 * loopback, as the agent's development mode: see bench/README.md for what that leaves out.
 */
public final class HollowFleet implements AutoCloseable {
    /** A mirror address the nodes' configuration requires and never contact (the stand-in fetches nothing). */
    static final String NO_MIRROR = "http://127.0.0.1:9/";

    private final Path dir;
    private final Path trustedKeys;
    private final StandIn standIn;
    private final Clock clock;
    private final PythonInfo python;
    private final TrustPolicy trust;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService calls;
    private final ScheduledExecutorService heartbeat;
    private final AtomicLong events = new AtomicLong();
    private final Queue<Server> servers = new ConcurrentLinkedQueue<>();
    private final Queue<DeployEngine> engines = new ConcurrentLinkedQueue<>();

    /**
     * @param dir where the nodes' roots go ({@code dir/NODE})
     * @param trustedKeys the directory of public keys every node trusts (threshold 1)
     * @param python the interpreter the nodes report (probed once for all)
     * @param callThreads the shared pool serving every node's calls: at least the deploys run at once
     */
    public HollowFleet(Path dir, Path trustedKeys, Path python, int callThreads, StandIn standIn, Clock clock)
            throws IOException {
        if (callThreads < 1) {
            throw new IllegalArgumentException("call threads must be at least 1, got " + callThreads);
        }
        this.dir = Files.createDirectories(dir);
        this.trustedKeys = trustedKeys;
        this.standIn = standIn;
        this.clock = clock;
        this.python = PythonInfo.probe(python);
        this.trust = TrustPolicy.fromDirectory(trustedKeys, 1);
        this.boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("sim-accept", true),
                NioIoHandler.newFactory());
        this.workers = new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("sim-grpc", true),
                NioIoHandler.newFactory());
        this.calls = Executors.newFixedThreadPool(callThreads, new DaemonThreads("sim-call"));
        this.heartbeat = Executors.newSingleThreadScheduledExecutor(new DaemonThreads("sim-progress"));
    }

    /** Starts node {@code node} (thread-safe: nodes may be started in parallel) listening on {@code host} (a loopback address), port chosen by the system; its port. */
    public int start(String node, String host) throws IOException {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", node);
        cfg.put("root", dir.resolve(node).toString());
        cfg.put("listen", host + ":0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", trustedKeys.toString());
        cfg.put("mirrors", NO_MIRROR);
        cfg.put("python", python.executable().toString());
        cfg.put("install-parallelism", "1");
        AgentConfig config = AgentConfig.load(null, cfg);
        Files.createDirectories(config.root());
        ContentStore store = new ContentStore(config.root().resolve("store"));
        ReleaseBuilder builder = new ReleaseBuilder(config.root().resolve("cache"), python, 1);
        DeployEngine engine = DeployEngine.simulated(config, trust, python, store, builder, clock, heartbeat, standIn);
        engine.recover();
        AgentTransport transport = AgentTransport.shared(config, clock, boss, workers);
        Server server = Agent.serve(transport.builder().executor(calls), engine, config, new EventCounter(events))
                .build();
        engines.add(engine);
        server.start();
        servers.add(server);
        return server.getPort();
    }

    /** Deploy events all nodes have sent so far (phases, progress, artifacts, checks, reports). */
    public long eventsSent() {
        return events.get();
    }

    /** Nodes started. */
    public int size() {
        return servers.size();
    }

    /** The release id `current` points at for {@code app} on {@code node}, or null. */
    public String current(String node, String app) throws IOException {
        Path link = dir.resolve(node).resolve("apps").resolve(app).resolve("current");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    /** Stops every node (calls cut), then the shared loops and pools. */
    @Override
    public void close() {
        servers.forEach(Server::shutdownNow);
        for (Server s : servers) {
            try {
                s.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        engines.forEach(DeployEngine::close);
        calls.shutdownNow();
        heartbeat.shutdownNow();
        boss.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS);
    }

    /** Counts the deploy events the nodes send. */
    private record EventCounter(AtomicLong count) implements ServerInterceptor {
        @Override
        public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                ServerCallHandler<Q, A> next) {
            return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                @Override
                public void sendMessage(A message) {
                    if (message instanceof DeployEvent) {
                        count.incrementAndGet();
                    }
                    super.sendMessage(message);
                }
            }, headers);
        }
    }
}

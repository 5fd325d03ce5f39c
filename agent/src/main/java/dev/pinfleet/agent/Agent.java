package dev.pinfleet.agent;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.deploy.DeployEngine;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fetch.FetchConfig;
import dev.pinfleet.agent.fetch.Fetcher;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.agent.install.Warmup;
import dev.pinfleet.agent.metrics.AgentMetrics;
import dev.pinfleet.metrics.MetricsServer;
import dev.pinfleet.trust.TrustPolicy;
import io.grpc.Server;
import dev.pinfleet.agent.tls.RoleInterceptor;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import dev.pinfleet.agent.net.AgentTransport;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A running agent: its engine and gRPC server. {@link #Agent(AgentConfig, Clock)} serves on its own Netty transport
 * ({@link AgentTransport}), as {@link AgentMain} does; the other constructor takes any {@link ServerBuilder} (e.g. an
 * in-process one). AutoCloseable, so a test can start several agents with their own roots and ports.
 */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Agent.class.getName());
    /** Largest request accepted, in bytes (a signed manifest of many thousand artifacts fits easily). */
    public static final int MAX_INBOUND_BYTES = 8 * 1024 * 1024;

    private final AgentConfig config;
    private final DeployEngine engine;
    private final Fetcher fetcher;
    private final Server server;
    private final AgentMetrics metrics;
    private final AutoCloseable transport;
    private volatile MetricsServer metricsServer;
    /**
     * After shutdown-seconds, a running deploy is aborted and gets this much longer to end (an install in progress
     * completes); the systemd unit's TimeoutStopSec allows for both.
     */
    public static final Duration ABORT_GRACE = Duration.ofSeconds(20);

    /** The production agent: gRPC on its own Netty transport for {@code config} (see {@link AgentTransport}). */
    public Agent(AgentConfig config, Clock clock) throws IOException {
        this(config, AgentTransport.of(config, clock), clock);
    }

    private Agent(AgentConfig config, AgentTransport transport, Clock clock) throws IOException {
        this(config, transport.builder(), transport, clock);
    }

    /** An agent serving on {@code serverBuilder}'s transport. */
    public Agent(AgentConfig config, ServerBuilder<?> serverBuilder, Clock clock) throws IOException {
        this(config, serverBuilder, () -> { }, clock);
    }

    private Agent(AgentConfig config, ServerBuilder<?> serverBuilder, AutoCloseable transport, Clock clock)
            throws IOException {
        this.config = config;
        this.transport = transport;
        try {
            Files.createDirectories(config.root());
            // before the store, the cache and recovery write or delete anything under the root
            dev.pinfleet.agent.fs.RootGuard.check(config.node(), config.root());
            TrustPolicy trust = TrustPolicy.fromDirectory(config.trustedKeys(), config.threshold());
            PythonInfo python = PythonInfo.probe(config.python());
            ContentStore store = new ContentStore(config.root().resolve("store"));
            this.fetcher = new Fetcher(config.mirrors(), store, fetchConfig(config),
                    dev.pinfleet.agent.fetch.Sleeper.system());
            ReleaseBuilder builder = new ReleaseBuilder(config.root().resolve("cache"), python,
                    config.installParallelism());
            fetcher.onCommitted(builder::prepare); // unpacking overlaps the downloads
            this.engine = new DeployEngine(config, trust, python, store, fetcher, builder, clock);
            engine.recover();
            Warmup.start(); // off the deploy path: SHA-256 compiled before the first download
            this.metrics = new AgentMetrics(config.mirrors(), () -> engine.status("", false), store::totalBytes,
                    version());
            engine.onReport(metrics::recordDeploy);
            engine.onRefused(metrics::recordRefused);
            this.server = serve(serverBuilder, engine, config).build();
        } catch (IOException | RuntimeException e) {
            closeQuietly(transport); // the agent does not start: its event loops go
            throw e;
        }
    }

    /**
     * Puts the agent's gRPC service for {@code engine} on {@code serverBuilder}: the one role check in front of it,
     * the bound on request size, and {@code extra} interceptors (outermost last); for the agent and the fleet
     * simulator's nodes alike.
     */
    public static ServerBuilder<?> serve(ServerBuilder<?> serverBuilder, DeployEngine engine, AgentConfig config,
            io.grpc.ServerInterceptor... extra) {
        io.grpc.ServerServiceDefinition service = ServerInterceptors.intercept(
                new AgentGrpcService(engine, config.node(), version()),
                new RoleInterceptor(config.node(), config.plaintext()));
        return serverBuilder.addService(ServerInterceptors.intercept(service, extra))
                .maxInboundMessageSize(MAX_INBOUND_BYTES);
    }

    /** How this agent downloads: fetch-* keys of {@code config}, the connect timeout of {@link FetchConfig#defaults()}. */
    public static FetchConfig fetchConfig(AgentConfig config) {
        return new FetchConfig(config.fetchParallelism(), FetchConfig.defaults().connectTimeout(),
                config.fetchRequestTimeout(), config.fetchIdleTimeout(), config.fetchTries(), config.fetchBackoff(),
                config.fetchMinSpeed());
    }

    /** Full names of the gRPC methods this agent serves. */
    public java.util.Set<String> registeredMethods() {
        java.util.Set<String> out = new java.util.TreeSet<>();
        for (io.grpc.ServerServiceDefinition d : server.getServices()) {
            d.getMethods().forEach(m -> out.add(m.getMethodDescriptor().getFullMethodName()));
        }
        return out;
    }

    public Agent start() throws IOException {
        if (config.metricsListen() != null) {
            metricsServer = MetricsServer.start(config.metricsListen(), metrics::scrape);
            LOG.info("agent " + config.node() + " serves metrics on http://" + metricsServer.address().getHostString()
                    + ":" + metricsServer.port() + MetricsServer.PATH);
        }
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            if (metricsServer != null) {
                metricsServer.close();
            }
            closeQuietly(transport);
            throw e;
        }
        LOG.info("agent " + config.node() + " listening on " + server.getListenSockets() + ", root " + config.root());
        return this;
    }

    /** Bound port of the metrics endpoint, or -1 when metrics-listen is off (or before start). */
    public int metricsPort() {
        MetricsServer m = metricsServer;
        return m == null ? -1 : m.port();
    }

    public AgentMetrics metrics() {
        return metrics;
    }

    /** Bound port (for agents started on port 0). */
    public int port() {
        return server.getPort();
    }

    public DeployEngine engine() {
        return engine;
    }

    public static String version() {
        String v = Agent.class.getPackage().getImplementationVersion();
        return v == null ? "development" : v;
    }

    /**
     * Graceful stop (SIGTERM): no new calls; a running deploy gets shutdown-seconds to finish, then is aborted
     * (its report says so and `current` stays where it was) and gets {@link #ABORT_GRACE} to end; then the
     * remaining calls are cut.
     */
    @Override
    public void close() {
        server.shutdown();
        try {
            if (!engine.awaitIdle(Duration.ofSeconds(config.shutdownSeconds()))) {
                LOG.warning("agent " + config.node() + ": the running deploy did not finish within shutdown-seconds="
                        + config.shutdownSeconds() + "; aborting it");
                engine.abort();
                engine.awaitIdle(ABORT_GRACE);
            } else {
                engine.abort(); // none runs: refuses one that slipped in before the server stopped taking calls
            }
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        }
        MetricsServer m = metricsServer;
        if (m != null) {
            m.close();
        }
        metrics.close();
        fetcher.close();
        engine.close();
        closeQuietly(transport);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.warning("closing the transport: " + e);
        }
    }
}

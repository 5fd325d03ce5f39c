package dev.pinfleet.agent;

import dev.pinfleet.agent.deploy.DeployEngine;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fetch.FetchConfig;
import dev.pinfleet.agent.fetch.Fetcher;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.trust.TrustPolicy;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A running agent: its engine and gRPC server. Takes a {@link ServerBuilder} so tests can pass an
 * in-process or loopback one; {@link AgentMain} passes a Netty one. AutoCloseable, so a test can
 * start several agents with their own roots and ports.
 */
public final class Agent implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Agent.class.getName());
    /** Largest request accepted, in bytes (a signed manifest of many thousand artifacts fits easily). */
    public static final int MAX_INBOUND_BYTES = 8 * 1024 * 1024;

    private final AgentConfig config;
    private final DeployEngine engine;
    private final Fetcher fetcher;
    private final Server server;

    public Agent(AgentConfig config, ServerBuilder<?> serverBuilder, Clock clock) throws IOException {
        this.config = config;
        Files.createDirectories(config.root());
        TrustPolicy trust = TrustPolicy.fromDirectory(config.trustedKeys(), config.threshold());
        PythonInfo python = PythonInfo.probe(config.python());
        ContentStore store = new ContentStore(config.root().resolve("store"));
        FetchConfig fc = FetchConfig.defaults();
        this.fetcher = new Fetcher(config.mirrors(), store,
                new FetchConfig(config.fetchParallelism(), fc.connectTimeout(), fc.requestTimeout(), fc.idleTimeout(),
                        fc.maxTries(), fc.backoffBase()),
                dev.pinfleet.agent.fetch.Sleeper.system());
        ReleaseBuilder builder = new ReleaseBuilder(config.root().resolve("cache"), python, config.installParallelism());
        this.engine = new DeployEngine(config, trust, python, store, fetcher, builder, clock);
        engine.recover();
        this.server = serverBuilder.addService(new AgentGrpcService(engine, config.node(), version()))
                .maxInboundMessageSize(MAX_INBOUND_BYTES).build();
    }

    public Agent start() throws IOException {
        server.start();
        LOG.info("agent " + config.node() + " listening on " + server.getListenSockets() + ", root " + config.root());
        return this;
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

    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(config.shutdownSeconds(), TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            server.shutdownNow();
        }
        fetcher.close();
    }
}

package dev.pinfleet.agent.net;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.tls.AgentTls;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.time.Clock;
import java.util.concurrent.TimeUnit;

/**
 * The agent's gRPC transport: Netty on the listen address with its own event loops and listening socket (the
 * {@link ConnectionGate} cap, the TLS handshake log), mutual TLS from tls-cert, tls-key and tls-ca (unless
 * plaintext on loopback), keepalive, and against slow-loris clients a handshake timeout (grpc-handshake-timeout)
 * and bounded idle connections (grpc-max-connection-idle), which also closes a connection that never completes its
 * HTTP/2 preface; request headers are bounded. {@link #close} stops the event loops once the server has stopped.
 */
public final class AgentTransport implements AutoCloseable {
    /** Largest request header block (gRPC metadata) accepted, in bytes. */
    public static final int MAX_INBOUND_METADATA_BYTES = 64 * 1024;

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ConnectionGate gate;
    private final NettyServerBuilder builder;
    /** Whether {@link #close} stops the event loops (not when they are shared by a simulated fleet). */
    private final boolean ownsLoops;

    private AgentTransport(AgentConfig config, Clock clock, EventLoopGroup boss, EventLoopGroup workers,
            boolean ownsLoops) throws IOException {
        this.gate = new ConnectionGate(config.node(), config.grpcMaxConnections(), clock);
        this.boss = boss;
        this.workers = workers;
        this.ownsLoops = ownsLoops;
        NettyServerBuilder b = NettyServerBuilder.forAddress(config.listen())
                .channelFactory(() -> new GatedServerChannel(gate, config.node()))
                .bossEventLoopGroup(boss).workerEventLoopGroup(workers)
                .permitKeepAliveTime(10, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true)
                .keepAliveTime(60, TimeUnit.SECONDS).keepAliveTimeout(20, TimeUnit.SECONDS)
                .maxConnectionIdle(config.grpcMaxConnectionIdle().toNanos(), TimeUnit.NANOSECONDS)
                .handshakeTimeout(config.grpcHandshakeTimeout().toNanos(), TimeUnit.NANOSECONDS)
                .maxInboundMetadataSize(MAX_INBOUND_METADATA_BYTES);
        if (!config.plaintext()) {
            b.sslContext(AgentTls.serverContext(config));
        }
        this.builder = b;
    }

    /** The transport of {@code config}; the caller closes it after the server built from {@link #builder()}. */
    public static AgentTransport of(AgentConfig config, Clock clock) throws IOException {
        return new AgentTransport(config, clock, new MultiThreadIoEventLoopGroup(1,
                new DefaultThreadFactory("agent-grpc-accept", true), NioIoHandler.newFactory()),
                new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("agent-grpc", true),
                        NioIoHandler.newFactory()), true);
    }

    /**
     * The transport of {@code config} on event loops shared with other servers of this process (the fleet
     * simulator's thousands of nodes in one JVM); {@link #close} leaves them running.
     */
    public static AgentTransport shared(AgentConfig config, Clock clock, EventLoopGroup boss, EventLoopGroup workers)
            throws IOException {
        return new AgentTransport(config, clock, boss, workers, false);
    }

    public NettyServerBuilder builder() {
        return builder;
    }

    /** The cap on open connections. */
    public ConnectionGate gate() {
        return gate;
    }

    @Override
    public void close() {
        if (!ownsLoops) {
            return;
        }
        boss.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS);
    }
}

package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.ControllerTls;
import io.grpc.ManagedChannel;
import io.grpc.netty.InternalNettyChannelBuilder;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Opens channels to agents: mutual TLS with the controller's certificate, the agent's certificate checked against
 * its inventory name (the channel's authority); or plaintext, for development, to loopback addresses only.
 * Bounded message sizes and keepalive on every channel; callers put a deadline on every call.
 */
public final class AgentClient {
    /** Largest message accepted from an agent, in bytes. */
    public static final int MAX_INBOUND_BYTES = 16 * 1024 * 1024;
    /** Deadline of a Status, Plan or ReleaseManifest call, in seconds. */
    public static final int QUERY_DEADLINE_SECONDS = 30;

    private final ControllerTls tls;

    private AgentClient(ControllerTls tls) {
        this.tls = tls;
    }

    public static AgentClient tls(ControllerTls tls) {
        return new AgentClient(tls);
    }

    /** Plaintext to loopback agents only; refuses when a node's address is not loopback. */
    public static AgentClient plaintext(List<Node> nodes) {
        for (Node n : nodes) {
            boolean loopback;
            try {
                loopback = n.host().matches("[0-9.]+|[0-9a-fA-F:]+|localhost")
                        && InetAddress.getByName(n.host()).isLoopbackAddress();
            } catch (UnknownHostException e) {
                loopback = false;
            }
            if (!loopback) {
                throw new CliException("--plaintext is only for agents on loopback (development); " + n.name()
                        + " is at " + n.address() + ": use mutual TLS (--tls-dir or --tls-cert/--tls-key/--tls-ca)");
            }
        }
        return new AgentClient(null);
    }

    public boolean isTls() {
        return tls != null;
    }

    /** A channel on gRPC's process-wide event loops and executor (a rollout's few nodes in flight). */
    public ManagedChannel open(Node node) {
        return builder(node).build();
    }

    /**
     * A channel on {@code shared}'s event loops, its callbacks run on them (they must not block), its name resolution
     * on {@code shared}'s small pool: many channels of one fleet question, no thread per node. Without gRPC's retry
     * machinery (which buffers every message of a call for a replay): a question is one call on a new channel, and a
     * node whose call fails is reported with its reason, never asked twice.
     */
    public ManagedChannel open(Node node, SharedTransport shared) {
        return builder(node).eventLoopGroup(shared.loops()).channelType(NioSocketChannel.class)
                .offloadExecutor(shared.offload()).directExecutor().disableRetry().build();
    }

    private NettyChannelBuilder builder(Node node) {
        // An address literal is dialed as is, without a name resolver's round on another thread; a host name resolves.
        InetAddress literal = literal(node.host());
        NettyChannelBuilder b = (literal != null ? NettyChannelBuilder.forAddress(new InetSocketAddress(literal, node.port()))
                : NettyChannelBuilder.forAddress(node.host(), node.port()))
                .maxInboundMessageSize(MAX_INBOUND_BYTES)
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(false);
        // no OpenCensus on the class path: skip gRPC's look-up of it (a failed class load per channel)
        InternalNettyChannelBuilder.setStatsEnabled(b, false);
        InternalNettyChannelBuilder.setTracingEnabled(b, false);
        if (tls == null) {
            b.usePlaintext();
        } else {
            b.sslContext(tls.context()).overrideAuthority(node.name());
        }
        return b;
    }

    /** The address {@code host} spells (an IPv4 or IPv6 literal, brackets allowed), or null for a host name. */
    static InetAddress literal(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (!h.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*(%[\\w.]+)?")) {
            return null;
        }
        try {
            return InetAddress.getByName(h); // a literal's form: parsed, never looked up
        } catch (UnknownHostException e) {
            return null; // not a valid literal after all (300.1.1.1): resolved as a name, which fails with its reason
        }
    }
}

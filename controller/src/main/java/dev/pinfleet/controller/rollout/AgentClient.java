package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.ControllerTls;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.net.InetAddress;
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

    public ManagedChannel open(Node node) {
        NettyChannelBuilder b = NettyChannelBuilder.forAddress(node.host(), node.port())
                .maxInboundMessageSize(MAX_INBOUND_BYTES)
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(false);
        if (tls == null) {
            b.usePlaintext();
        } else {
            b.sslContext(tls.context()).overrideAuthority(node.name());
        }
        return b.build();
    }

    public static void close(ManagedChannel channel) {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.pinfleet.controller.rollout;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.util.concurrent.TimeUnit;

/** Opens channels to agents. Plaintext on loopback for development; mutual TLS comes with the rollout work. */
public final class AgentClient {
    /** Largest message accepted from an agent, in bytes. */
    public static final int MAX_INBOUND_BYTES = 16 * 1024 * 1024;

    private AgentClient() {}

    public static ManagedChannel open(Node node) {
        return NettyChannelBuilder.forAddress(node.host(), node.port())
                .usePlaintext()
                .maxInboundMessageSize(MAX_INBOUND_BYTES)
                .keepAliveTime(30, TimeUnit.SECONDS)
                .keepAliveTimeout(10, TimeUnit.SECONDS)
                .build();
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

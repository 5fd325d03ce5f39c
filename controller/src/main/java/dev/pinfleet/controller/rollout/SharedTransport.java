package dev.pinfleet.controller.rollout;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads every channel of one fleet question shares: Netty event loops (one per core) that carry the
 * connections, the TLS handshakes and the answers, and a small pool for name resolution. A question to 10,000 agents
 * holds these few threads, whatever the fleet's size; closing it ends them (and any connection still open).
 */
public final class SharedTransport implements AutoCloseable {
    /** Threads resolving the agents' host names (most inventories give addresses, which resolve at once). */
    static final int RESOLVER_THREADS = 4;

    private final EventLoopGroup loops;
    private final ExecutorService offload;

    public SharedTransport() {
        loops = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory("agents-io", true), NioIoHandler.newFactory());
        AtomicInteger n = new AtomicInteger();
        ThreadFactory named = r -> {
            Thread t = new Thread(r, "agents-resolve-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        offload = Executors.newFixedThreadPool(RESOLVER_THREADS, named);
    }

    EventLoopGroup loops() {
        return loops;
    }

    ExecutorService offload() {
        return offload;
    }

    /** Ends the event loops (closing what is still connected) and the resolver threads, waiting a few seconds at most. */
    @Override
    public void close() {
        loops.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        offload.shutdownNow();
        try {
            loops.terminationFuture().await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

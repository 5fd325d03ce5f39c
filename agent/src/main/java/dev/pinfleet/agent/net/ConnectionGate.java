package dev.pinfleet.agent.net;

import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.logging.Logger;

/**
 * The agent's own cap on open gRPC connections ({@code grpc-max-connections}): a connection beyond it is closed as
 * it is accepted, before a byte is read, and logged. Refusals are logged at once for the first of a burst, then at
 * most once per {@link #LOG_EVERY} with the number refused meanwhile, so a flood cannot flood the log too.
 * Thread-safe.
 */
public final class ConnectionGate {
    private static final Logger LOG = Logger.getLogger(ConnectionGate.class.getName());
    /** At most one refusal line per this period. */
    public static final Duration LOG_EVERY = Duration.ofSeconds(1);

    private final String node;
    private final int max;
    private final Clock clock;
    private int open;
    private long refusedSinceLog;
    private long lastLogMillis = Long.MIN_VALUE;

    public ConnectionGate(String node, int max, Clock clock) {
        if (max < 1) {
            throw new IllegalArgumentException("grpc-max-connections must be at least 1, got " + max);
        }
        this.node = node;
        this.max = max;
        this.clock = clock;
    }

    /** A connection from {@code peer} was accepted: true when it may stay (call {@link #closed} when it closes). */
    public synchronized boolean admit(SocketAddress peer) {
        if (open < max) {
            open++;
            return true;
        }
        refusedSinceLog++;
        long now = clock.millis();
        if (lastLogMillis == Long.MIN_VALUE || now - lastLogMillis >= LOG_EVERY.toMillis()) {
            LOG.warning("node " + node + ": closed the connection from " + peer + " as it was accepted: " + open
                    + " connections are open, grpc-max-connections=" + max
                    + (refusedSinceLog > 1 ? " (" + refusedSinceLog + " refused since the last such line)" : ""));
            lastLogMillis = now;
            refusedSinceLog = 0;
        }
        return false;
    }

    /** An admitted connection closed. */
    public synchronized void closed() {
        open--;
    }

    /** Connections admitted and not closed yet. */
    public synchronized int open() {
        return open;
    }
}

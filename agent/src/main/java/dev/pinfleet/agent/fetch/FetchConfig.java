package dev.pinfleet.agent.fetch;

import java.time.Duration;
import java.util.Objects;

/**
 * How the agent downloads artifacts from its mirrors. Immutable; validated on construction.
 *
 * @param parallelism    downloads running at once (1..256); default 8
 * @param connectTimeout longest wait for a TCP (and TLS) connection to a mirror; default 10 s
 * @param requestTimeout whole-response deadline: from sending the request to the last byte of the body; default 10 min
 * @param idleTimeout    longest time without receiving a byte (headers or body) before the attempt counts as
 *                       timed out, so a hung mirror is abandoned; also the window of the {@code minSpeed} rule;
 *                       default 30 s
 * @param maxTries       attempts per mirror for retryable failures (5xx, connection loss, timeout); default 3
 * @param backoffBase    wait before the first retry on a mirror; doubles per retry up to {@link #MAX_BACKOFF},
 *                       with jitter (each wait is between half and all of that); default 500 ms
 * @param minSpeed       bytes per second an attempt must average over each {@code idleTimeout} window (counted
 *                       from the connection attempt; response head and body bytes count), so that a trickling
 *                       mirror is abandoned long before the request timeout; 0 turns the rule off; default 1024
 */
public record FetchConfig(int parallelism, Duration connectTimeout, Duration requestTimeout, Duration idleTimeout,
                          int maxTries, Duration backoffBase, long minSpeed) {

    /** Default of {@link #minSpeed}: 1 KiB/s. */
    public static final long DEFAULT_MIN_SPEED = 1024;

    /** Upper bound of one back-off wait (unless {@code backoffBase} itself is larger). */
    public static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    public FetchConfig {
        if (parallelism < 1 || parallelism > 256) {
            throw new IllegalArgumentException("fetch parallelism must be 1..256, got " + parallelism);
        }
        requirePositive("connectTimeout", connectTimeout);
        requirePositive("requestTimeout", requestTimeout);
        requirePositive("idleTimeout", idleTimeout);
        if (maxTries < 1) {
            throw new IllegalArgumentException("fetch maxTries must be at least 1, got " + maxTries);
        }
        Objects.requireNonNull(backoffBase, "backoffBase");
        if (backoffBase.isNegative()) {
            throw new IllegalArgumentException("fetch backoffBase must not be negative, got " + backoffBase);
        }
        if (minSpeed < 0) {
            throw new IllegalArgumentException("fetch minSpeed must not be negative, got " + minSpeed);
        }
    }

    /** As the canonical constructor, with the default {@link #minSpeed} of {@value #DEFAULT_MIN_SPEED} bytes/s. */
    public FetchConfig(int parallelism, Duration connectTimeout, Duration requestTimeout, Duration idleTimeout,
                       int maxTries, Duration backoffBase) {
        this(parallelism, connectTimeout, requestTimeout, idleTimeout, maxTries, backoffBase, DEFAULT_MIN_SPEED);
    }

    /**
     * Parallelism 8, connect 10 s, request 10 min, idle 30 s, 3 tries per mirror, back-off from 500 ms, at least
     * 1 KiB/s.
     */
    public static FetchConfig defaults() {
        return new FetchConfig(8, Duration.ofSeconds(10), Duration.ofMinutes(10), Duration.ofSeconds(30), 3,
                Duration.ofMillis(500), DEFAULT_MIN_SPEED);
    }

    /**
     * The back-off ceiling before retry number {@code retry} (1 for the wait after the first failure):
     * {@code backoffBase * 2^(retry-1)}, capped at {@link #MAX_BACKOFF} (or {@code backoffBase} when larger).
     */
    public Duration backoff(int retry) {
        if (retry < 1) {
            throw new IllegalArgumentException("retry numbers start at 1, got " + retry);
        }
        Duration cap = backoffBase.compareTo(MAX_BACKOFF) > 0 ? backoffBase : MAX_BACKOFF;
        Duration d = backoffBase;
        for (int i = 1; i < retry && d.compareTo(cap) < 0; i++) {
            d = d.multipliedBy(2);
        }
        return d.compareTo(cap) > 0 ? cap : d;
    }

    private static void requirePositive(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException("fetch " + name + " must be positive, got " + d);
        }
    }
}

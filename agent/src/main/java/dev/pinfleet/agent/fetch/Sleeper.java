package dev.pinfleet.agent.fetch;

import java.time.Duration;

/** Waits between retries; injected so tests record back-offs instead of sleeping. */
@FunctionalInterface
public interface Sleeper {

    /** Blocks for {@code d}; must return early with {@link InterruptedException} when the thread is interrupted. */
    void sleep(Duration d) throws InterruptedException;

    /** The real clock: {@link Thread#sleep(long, int)}. */
    static Sleeper system() {
        return d -> {
            if (!d.isNegative() && !d.isZero()) {
                Thread.sleep(d.toMillis(), (int) (d.toNanos() % 1_000_000));
            }
        };
    }
}

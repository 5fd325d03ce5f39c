package dev.pinfleet.agent.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock a test moves: by hand ({@link #advance}), and optionally by a fixed step on every read. */
public final class ManualClock extends Clock {
    private final Duration stepPerRead;
    private Instant now;

    /** Starts at {@code start}; each read first moves it on by {@code stepPerRead} (zero: only by hand). */
    public ManualClock(Instant start, Duration stepPerRead) {
        this.now = start;
        this.stepPerRead = stepPerRead;
    }

    public synchronized void advance(Duration d) {
        now = now.plus(d);
    }

    @Override
    public synchronized Instant instant() {
        now = now.plus(stepPerRead);
        return now;
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }
}

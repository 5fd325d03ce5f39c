package dev.pinfleet.agent.fetch;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The downloads of one {@link Fetcher#fetchAll} call, cancelled together: cancelling trips every running
 * attempt's watchdog and interrupts workers waiting out a back-off; attempts not yet started see the flag.
 */
final class Batch {
    private final Set<Watchdog> watchdogs = new HashSet<>();   // guarded by this
    private final Set<Thread> sleeping = new HashSet<>();      // guarded by this
    private volatile String cancelReason;

    /** Cancels every attempt of the batch, once; {@code why} ends up in the CANCELLED errors. */
    void cancel(String why) {
        List<Watchdog> trip;
        synchronized (this) {
            if (cancelReason != null) {
                return;
            }
            cancelReason = why;
            trip = new ArrayList<>(watchdogs);
            sleeping.forEach(Thread::interrupt);
        }
        trip.forEach(w -> w.trip(Watchdog.Trip.CANCELLED));
    }

    /** Why the batch was cancelled, or null while it runs. */
    String cancelReason() {
        return cancelReason;
    }

    /** Registers a running attempt; trips it at once when the batch is already cancelled. */
    void watch(Watchdog w) {
        synchronized (this) {
            if (cancelReason == null) {
                watchdogs.add(w);
                return;
            }
        }
        w.trip(Watchdog.Trip.CANCELLED);
    }

    synchronized void unwatch(Watchdog w) {
        watchdogs.remove(w);
    }

    /** Waits out a back-off; throws {@link InterruptedException} when the batch is (or gets) cancelled. */
    void sleep(Sleeper sleeper, Duration d) throws InterruptedException {
        Thread me = Thread.currentThread();
        synchronized (this) {
            if (cancelReason != null) {
                throw new InterruptedException(cancelReason);
            }
            sleeping.add(me);
        }
        try {
            sleeper.sleep(d);
        } finally {
            synchronized (this) {
                sleeping.remove(me);
            }
        }
    }
}

package dev.pinfleet.agent.fetch;

import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * Guards one HTTP attempt: trips when no byte arrived for the idle timeout, when fewer bytes than the minimum
 * speed asks for arrived in a window of the idle timeout's length (a trickling mirror), when the whole response
 * missed its deadline, or when cancelled. Tripping runs the current abort action (cancel the pending request, close
 * the body stream), which wakes the worker blocked in the HTTP client and releases the connection.
 */
final class Watchdog implements AutoCloseable {

    /** Why the watchdog tripped. */
    enum Trip { IDLE, SLOW, DEADLINE, CANCELLED }

    /** Something to run when tripping; may be called from the timer thread. */
    @FunctionalInterface
    interface Abort {
        void abort() throws Exception;
    }

    private final ScheduledExecutorService timer;
    private final LongSupplier ticker;
    private final long idleNanos;
    private final long deadline;
    private final long minSpeed;
    private final AtomicReference<Trip> tripped = new AtomicReference<>();
    private volatile long lastProgress;
    private volatile long received;      // written by the worker only
    private long windowStart;            // timer thread (and constructor) only
    private long windowStartBytes;       // timer thread (and constructor) only
    private volatile long slowBytes;
    private volatile long slowNanos;
    private Abort abort;                 // guarded by this
    private ScheduledFuture<?> check;    // guarded by this
    private boolean closed;              // guarded by this

    /**
     * @param idle     longest time without a byte; also the window of the minimum-speed rule
     * @param total    deadline of the whole attempt
     * @param minSpeed bytes per second the attempt must average over each window; 0 for no such rule
     */
    Watchdog(ScheduledExecutorService timer, Duration idle, Duration total, long minSpeed) {
        this(timer, System::nanoTime, idle, total, minSpeed);
    }

    /**
     * As above, reading the time from {@code ticker} (nanoseconds, as {@link System#nanoTime()}): the seam through
     * which a test drives the watchdog with a clock and a timer of its own instead of the wall clock.
     */
    Watchdog(ScheduledExecutorService timer, LongSupplier ticker, Duration idle, Duration total, long minSpeed) {
        this.timer = timer;
        this.ticker = ticker;
        this.idleNanos = idle.toNanos();
        this.minSpeed = minSpeed;
        long now = ticker.getAsLong();
        this.lastProgress = now;
        this.deadline = now + total.toNanos();
        this.windowStart = now;
        scheduleCheck(now);
    }

    /** Records that {@code n} bytes arrived (called by the one thread that reads). */
    void progress(long n) {
        lastProgress = ticker.getAsLong();
        received += n;
    }

    /** Bytes received in the window that tripped {@link Trip#SLOW}. */
    long slowBytes() {
        return slowBytes;
    }

    /** Length of the window that tripped {@link Trip#SLOW}, in nanoseconds. */
    long slowNanos() {
        return slowNanos;
    }

    /** Sets what to run when tripping; runs it at once when already tripped. */
    void onTrip(Abort action) {
        boolean now;
        synchronized (this) {
            abort = action;
            now = tripped.get() != null;
        }
        if (now) {
            runQuietly(action);
        }
    }

    /** Trips (once) for {@code why}. */
    void trip(Trip why) {
        if (!tripped.compareAndSet(null, why)) {
            return;
        }
        Abort action;
        synchronized (this) {
            action = abort;
            if (check != null) {
                check.cancel(false);
            }
        }
        if (action != null) {
            runQuietly(action);
        }
    }

    /** Why it tripped, or null. */
    Trip tripped() {
        return tripped.get();
    }

    /** Stops watching (does not trip). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            abort = null;
            if (check != null) {
                check.cancel(false);
            }
        }
    }

    private void check() {
        long now = ticker.getAsLong();
        if (now - deadline >= 0) {
            trip(Trip.DEADLINE);
        } else if (now - lastProgress >= idleNanos) {
            trip(Trip.IDLE);
        } else if (minSpeed > 0 && now - windowStart >= idleNanos) {
            long got = received - windowStartBytes;
            long elapsed = now - windowStart;
            if (got < requiredBytes(elapsed)) {
                slowBytes = got;
                slowNanos = elapsed;
                trip(Trip.SLOW);
            } else {
                windowStart = now;
                windowStartBytes += got;
                scheduleCheck(now);
            }
        } else {
            scheduleCheck(now);
        }
    }

    /** {@code minSpeed} bytes per second over {@code nanos}, rounded up. */
    private long requiredBytes(long nanos) {
        double bytes = Math.ceil(minSpeed * (nanos / 1e9));
        return bytes >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) bytes;
    }

    private void scheduleCheck(long now) {
        long next = Math.min(deadline - now, lastProgress + idleNanos - now);
        if (minSpeed > 0) {
            next = Math.min(next, windowStart + idleNanos - now);
        }
        boolean stopped = false;
        synchronized (this) {
            if (!closed && tripped.get() == null) {
                try {
                    check = timer.schedule(this::check, Math.max(next, 0), TimeUnit.NANOSECONDS);
                } catch (RejectedExecutionException e) {
                    stopped = true;
                }
            }
        }
        if (stopped) {
            trip(Trip.CANCELLED);     // the fetcher was closed
        }
    }

    private static void runQuietly(Abort action) {
        try {
            action.abort();
        } catch (Exception ignored) {
            // aborting is best effort; the worker sees the trip either way
        }
    }
}

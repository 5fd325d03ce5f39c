package dev.pinfleet.agent.fetch;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A clock and a timer that only move when the test says so: {@link #advance} moves the clock and runs, on the
 * calling thread and in order of their due time, the tasks that fell due (including tasks they schedule in turn).
 * Implements the one scheduling method {@link Watchdog} uses; the others throw. Not thread-safe: one test thread
 * drives it.
 */
final class ManualTimer extends AbstractExecutorService implements ScheduledExecutorService, LongSupplier {
    private final PriorityQueue<Task> queue = new PriorityQueue<>(Comparator.comparingLong((Task t) -> t.due)
            .thenComparingLong(t -> t.seq));
    private long now = 1_000_000_000L; // any origin: only differences count
    private long seq;
    private boolean shutdown;

    /** The current time in nanoseconds (the {@link Watchdog}'s ticker). */
    @Override
    public long getAsLong() {
        return now;
    }

    /** Moves the clock forward by {@code d}, running every task due by then. */
    void advance(Duration d) {
        long until = now + d.toNanos();
        while (!queue.isEmpty() && queue.peek().due <= until) {
            Task t = queue.poll();
            now = Math.max(now, t.due);
            t.run();
        }
        now = until;
    }

    /** Tasks waiting to run. */
    int pending() {
        return queue.size();
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        if (shutdown) {
            throw new RejectedExecutionException("timer shut down");
        }
        Task t = new Task(command, now + unit.toNanos(Math.max(delay, 0)), seq++);
        queue.add(t);
        return t;
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException();
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        throw new UnsupportedOperationException();
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void shutdown() {
        shutdown = true;
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown = true;
        List<Runnable> left = new ArrayList<>(queue);
        queue.clear();
        return left;
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return shutdown && queue.isEmpty();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return isTerminated();
    }

    @Override
    public void execute(Runnable command) {
        throw new UnsupportedOperationException();
    }

    private final class Task implements ScheduledFuture<Object>, Runnable {
        private final Runnable command;
        private final long due;
        private final long seq;
        private boolean done;
        private boolean cancelled;

        Task(Runnable command, long due, long seq) {
            this.command = command;
            this.due = due;
            this.seq = seq;
        }

        @Override
        public void run() {
            done = true;
            command.run();
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(due - now, TimeUnit.NANOSECONDS);
        }

        @Override
        public int compareTo(Delayed o) {
            return Long.compare(getDelay(TimeUnit.NANOSECONDS), o.getDelay(TimeUnit.NANOSECONDS));
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (done) {
                return false;
            }
            cancelled = true;
            done = true;
            return queue.remove(this);
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean isDone() {
            return done;
        }

        @Override
        public Object get() {
            return null;
        }

        @Override
        public Object get(long timeout, TimeUnit unit) {
            return null;
        }
    }
}

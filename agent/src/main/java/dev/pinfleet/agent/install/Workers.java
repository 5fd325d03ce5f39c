package dev.pinfleet.agent.install;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A fixed pool for one build. {@link #runAll} fails fast: the first failure cancels the remaining tasks.
 * {@link #close} waits for running tasks to stop, so nothing writes into a release after its build returned.
 */
final class Workers implements AutoCloseable {
    /** A unit of work that may fail the build. */
    interface Task<T> {
        T call() throws InstallException, IOException;
    }

    private final ExecutorService pool;

    Workers(int threads) {
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "pinfleet-install-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** Runs every task, handing each result to {@code onEach} (on the calling thread) as it completes. */
    <T> void runAll(List<Task<T>> tasks, Consumer<T> onEach) throws InstallException, IOException {
        CompletionService<T> done = new ExecutorCompletionService<>(pool);
        List<Future<T>> futures = new java.util.ArrayList<>(tasks.size());
        for (Task<T> task : tasks) {
            futures.add(done.submit(task::call));
        }
        try {
            for (int i = 0; i < tasks.size(); i++) {
                onEach.accept(done.take().get());
            }
        } catch (ExecutionException e) {
            futures.forEach(f -> f.cancel(true));
            Throwable c = e.getCause();
            if (c instanceof InstallException ie) {
                throw ie;
            }
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new IOException(c);
        } catch (InterruptedException e) {
            futures.forEach(f -> f.cancel(true));
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while installing", e);
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
        try {
            if (!pool.awaitTermination(5, TimeUnit.MINUTES)) {
                throw new IllegalStateException("install workers did not stop within 5 minutes");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

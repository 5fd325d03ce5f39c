package dev.pinfleet.agent.install;

import dev.pinfleet.concurrent.DaemonThreads;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Runs one step of a build on the builder's shared pool. {@link #runAll} fails fast: after the first failure the
 * tasks not yet started do nothing, and it returns only when every task has ended, so nothing writes into a
 * release after its build returned.
 */
final class Workers {
    /** A unit of work that may fail the build. */
    interface Task<T> {
        T call() throws InstallException, IOException;
    }

    private final Executor pool;

    Workers(Executor pool) {
        this.pool = pool;
    }

    /**
     * A pool of {@code threads} daemon threads named {@code prefix-N}; idle threads end after a while, so an
     * idle agent (or a test that makes many builders) keeps none.
     */
    static ThreadPoolExecutor pool(int threads, String prefix) {
        ThreadPoolExecutor p = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                new DaemonThreads(prefix));
        p.allowCoreThreadTimeOut(true);
        return p;
    }

    /** Runs every task, handing each result to {@code onEach} (on the calling thread) as it completes. */
    <T> void runAll(List<Task<T>> tasks, Consumer<T> onEach) throws InstallException, IOException {
        CompletionService<T> done = new ExecutorCompletionService<>(pool);
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<T>> futures = new ArrayList<>(tasks.size());
        for (Task<T> task : tasks) {
            futures.add(done.submit(() -> stop.get() ? null : task.call()));
        }
        Throwable failure = null;
        boolean interrupted = false;
        for (int i = 0; i < tasks.size(); i++) {
            try {
                T r = done.take().get();
                if (failure == null && r != null) {
                    onEach.accept(r);
                }
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause();
                    stop.set(true);
                }
            } catch (InterruptedException e) {
                interrupted = true;
                stop.set(true);
                i--; // still wait for that task: it may be writing
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            if (failure == null) {
                throw new IOException("interrupted while installing");
            }
        }
        if (failure == null) {
            return;
        }
        if (failure instanceof InstallException ie) {
            throw ie;
        }
        if (failure instanceof IOException io) {
            throw io;
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        throw new IOException(failure);
    }
}

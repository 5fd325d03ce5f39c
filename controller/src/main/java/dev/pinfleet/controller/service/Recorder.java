package dev.pinfleet.controller.service;

import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.StoreException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.LongConsumer;
import java.util.logging.Logger;

/**
 * The one writer of rollout events: changes queue up in the order they are made and are written by one thread, as
 * many as are waiting in one transaction (group commit), so a busy fleet costs one commit per batch, not one per
 * event. A caller that must not act before its event is recorded waits on the returned future (node start, node end,
 * wave start, stop); the others go on. After each commit the rollouts written to are announced (live watchers read
 * them from the records).
 */
final class Recorder implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Recorder.class.getName());
    /** Most changes written in one transaction. */
    static final int MAX_BATCH = 256;

    private record Pending(RolloutStore.Change change, CompletableFuture<Boolean> done) {}

    private final RolloutStore store;
    private final LongConsumer committed;
    private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private volatile boolean closing;

    Recorder(RolloutStore store, LongConsumer committed) {
        this.store = store;
        this.committed = committed;
        this.writer = new Thread(this::loop, "rollout-recorder");
        writer.setDaemon(true);
        writer.start();
    }

    /**
     * Queues {@code change}; the future completes with true once it is recorded, false when the lease it was made
     * under is lost (nothing written), or exceptionally with the {@link StoreException} that kept it from the records.
     */
    CompletableFuture<Boolean> write(RolloutStore.Change change) {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        if (closing) {
            f.completeExceptionally(new StoreException("the controller is stopping: nothing more is recorded"));
            return f;
        }
        queue.add(new Pending(change, f));
        return f;
    }

    private void loop() {
        List<Pending> batch = new ArrayList<>();
        while (true) {
            try {
                batch.add(queue.take());
            } catch (InterruptedException e) {
                if (queue.isEmpty()) {
                    return;
                }
            }
            queue.drainTo(batch, MAX_BATCH - batch.size());
            List<Pending> real = batch.stream().filter(p -> p.change() != null).toList();
            if (!real.isEmpty()) {
                write(real);
            }
            boolean stop = real.size() < batch.size(); // the close marker
            batch.clear();
            if (stop && queue.isEmpty()) {
                return;
            }
        }
    }

    private void write(List<Pending> batch) {
        List<Boolean> ok;
        try {
            ok = store.apply(batch.stream().map(Pending::change).toList());
        } catch (StoreException e) {
            LOG.warning(e.getMessage());
            batch.forEach(p -> p.done().completeExceptionally(e));
            return;
        } catch (RuntimeException e) {
            LOG.warning("recording failed: " + e);
            batch.forEach(p -> p.done().completeExceptionally(e));
            return;
        }
        Set<Long> written = new LinkedHashSet<>();
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).done().complete(ok.get(i));
            if (ok.get(i)) {
                written.add(batch.get(i).change().lease().rolloutId());
            }
        }
        written.forEach(committed::accept);
    }

    /** Writes what is queued, then stops. */
    @Override
    public void close() {
        closing = true;
        queue.add(new Pending(null, new CompletableFuture<>()));
        try {
            writer.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

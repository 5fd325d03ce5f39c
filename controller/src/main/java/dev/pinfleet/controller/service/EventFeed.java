package dev.pinfleet.controller.service;

import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.StoreException;
import dev.pinfleet.proto.v1.RolloutEvent;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The live side of Watch, read from the records: a watcher gets the rollout's recorded events from where it asks,
 * then each new one once it is recorded (at once for rollouts this controller writes, within {@link #POLL_MILLIS}
 * for those another process writes to the same database), and the live-only events (agent progress) as they
 * happen. The stream ends after the rollout's {@code finished} event. One thread serves every watcher.
 */
final class EventFeed implements AutoCloseable {
    /** How often watchers look for events another process recorded, in milliseconds. */
    static final long POLL_MILLIS = 500;
    /** Events read from the records at a time. */
    static final int PAGE = 500;

    private final RolloutStore store;
    private final ScheduledExecutorService exec = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "rollout-feed");
        t.setDaemon(true);
        return t;
    });
    private final Map<Long, Set<Subscription>> subscriptions = new ConcurrentHashMap<>();

    EventFeed(RolloutStore store) {
        this.store = store;
        exec.scheduleWithFixedDelay(() -> subscriptions.values().forEach(s -> s.forEach(Subscription::schedule)),
                POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Streams rollout {@code id}'s events after {@code afterSeq} to {@code out} until its end or the caller leaves. */
    void watch(long id, long afterSeq, ServerCallStreamObserver<RolloutEvent> out) {
        Subscription s = new Subscription(id, afterSeq, out);
        subscriptions.compute(id, (k, subs) -> {
            Set<Subscription> set = subs == null ? ConcurrentHashMap.newKeySet() : subs;
            set.add(s);
            return set;
        });
        out.setOnCancelHandler(s::close);
        s.schedule();
    }

    /** New events of {@code id} are recorded. */
    void committed(long id) {
        Set<Subscription> subs = subscriptions.get(id);
        if (subs != null) {
            subs.forEach(Subscription::schedule);
        }
    }

    /** A live-only event (not recorded) for the watchers of its rollout. */
    void publish(RolloutEvent live) {
        Set<Subscription> subs = subscriptions.get(live.getRolloutId());
        if (subs != null) {
            subs.forEach(s -> s.live(live));
        }
    }

    @Override
    public void close() {
        exec.shutdownNow();
        subscriptions.values().forEach(set -> set.forEach(s -> s.fail(Status.UNAVAILABLE
                .withDescription("the controller is stopping; the rollout's record stays: watch it again"))));
    }

    private final class Subscription {
        private final long id;
        private final ServerCallStreamObserver<RolloutEvent> out;
        private final AtomicBoolean scheduled = new AtomicBoolean();
        private long lastSeq;
        private boolean done;

        Subscription(long id, long afterSeq, ServerCallStreamObserver<RolloutEvent> out) {
            this.id = id;
            this.lastSeq = afterSeq;
            this.out = out;
        }

        void schedule() {
            if (scheduled.compareAndSet(false, true)) {
                try {
                    exec.execute(this::deliver);
                } catch (java.util.concurrent.RejectedExecutionException closing) {
                    scheduled.set(false);
                }
            }
        }

        private void deliver() {
            scheduled.set(false);
            synchronized (this) {
                if (done) {
                    return;
                }
                try {
                    List<RolloutEvent> page;
                    do {
                        page = store.events(id, lastSeq, PAGE);
                        for (RolloutEvent e : page) {
                            out.onNext(e);
                            lastSeq = e.getSeq();
                            if (e.hasFinished()) {
                                done = true;
                                out.onCompleted();
                                remove();
                                return;
                            }
                        }
                    } while (page.size() == PAGE);
                } catch (StoreException e) {
                    fail(Status.UNAVAILABLE.withDescription(e.getMessage()));
                } catch (RuntimeException e) {
                    // the watcher went away mid-send
                    close();
                }
            }
        }

        synchronized void live(RolloutEvent e) {
            if (!done && !out.isCancelled()) {
                try {
                    out.onNext(e);
                } catch (RuntimeException gone) {
                    close();
                }
            }
        }

        synchronized void fail(Status s) {
            if (!done) {
                done = true;
                remove();
                try {
                    out.onError(s.asRuntimeException());
                } catch (RuntimeException gone) {
                    // already closed
                }
            }
        }

        synchronized void close() {
            done = true;
            remove();
        }

        private void remove() {
            subscriptions.computeIfPresent(id, (k, subs) -> {
                subs.remove(this);
                return subs.isEmpty() ? null : subs;
            });
        }
    }
}

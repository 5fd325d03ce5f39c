package dev.pinfleet.controller.service;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.rollout.Strategy;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.RolloutStore.Lease;
import dev.pinfleet.controller.store.RolloutStore.RolloutRecord;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NextSerialResponse;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.StateChange;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.proto.v1.SubmitResponse;
import dev.pinfleet.trust.TrustPolicy;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * The controller: takes submissions, runs each rollout on a thread of its own (never one per node: the engine's
 * node calls are asynchronous), and keeps every rollout as a record. It holds a lease on each rollout it runs or
 * queues, renews it, and gives it up when it stops; at start (and, when serving, every few seconds) it looks for
 * rollouts whose controller is gone: the served controller resumes them, the embedded one marks them INTERRUPTED
 * for the operator to resume. Requests left by another process on the same database (cancel, proceed, stop) reach
 * the rollouts it runs within {@link #TICK_MILLIS}.
 */
public final class Controller implements AutoCloseable, RolloutRun.Context {
    private static final Logger LOG = Logger.getLogger(Controller.class.getName());
    /** How often requests from other processes and queued rollouts are looked at, in milliseconds. */
    static final long TICK_MILLIS = 500;
    /** How often a serving controller looks for rollouts whose controller is gone, in milliseconds. */
    static final long RECLAIM_MILLIS = 5_000;
    /** How long {@link #close} waits for its rollouts to record that they were interrupted, in seconds. */
    static final long STOP_SECONDS = 20;

    /**
     * How this controller behaves.
     *
     * @param agents        how it reaches agents
     * @param trust         the keys a manifest must be signed with (null: signatures are checked by the agents only)
     * @param lease         how long its lease on a rollout lasts unless renewed (renewed every third of it)
     * @param resumeOnStart whether it resumes the rollouts it finds interrupted (served) or only marks them (embedded)
     * @param shared        (served) whether another served controller may share the database (PostgreSQL): while the
     *                      other holds the leadership lease this one is the standby; false (SQLite): it refuses to start
     */
    public record Config(Agents agents, TrustPolicy trust, Duration lease, boolean resumeOnStart, boolean shared) {}

    private final RolloutStore store;
    private final Config config;
    private final Clock clock;
    private final Reconciler.Sleeper sleeper;
    private final Owner me = Owner.newInstance();
    private final Recorder recorder;
    private final EventFeed feed;
    private final Map<Long, RolloutRun> running = new ConcurrentHashMap<>();
    private final Map<Long, Lease> queued = new ConcurrentHashMap<>();
    private final AtomicInteger threads = new AtomicInteger();
    private final ExecutorService runners = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "rollout-" + threads.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private final ScheduledExecutorService tick = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "controller-tick");
        t.setDaemon(true);
        return t;
    });
    private final Requests requests;
    private final Fleet fleet;
    private volatile Leadership leadership; // served: which controller runs the rollouts; null: embedded, or not started

    public Controller(RolloutStore store, Config config, Clock clock, Reconciler.Sleeper sleeper) {
        this.store = store;
        this.config = config;
        this.clock = clock;
        this.sleeper = sleeper;
        this.feed = new EventFeed(store);
        this.recorder = new Recorder(store, feed::committed);
        this.requests = new Requests(this);
        this.fleet = new Fleet(config.agents());
    }

    /**
     * Takes care of rollouts whose controller is gone, then starts the periodic work. A served controller ({@code
     * address}: where operators reach it) first takes the leadership lease, or, while another controller holds it,
     * waits as the standby (on SQLite it refuses to start instead: a {@link ControllerException} naming the other).
     */
    public Controller start(String address) {
        if (address != null) {
            leadership = Leadership.take(store, me, address, config.lease(), config.shared(), this::safeReclaim,
                    this::stopAll);
            reclaim(); // when elected by that first step, before the field was set, reclaim found it not active yet
            long step = Leadership.STEP.toMillis();
            tick.scheduleWithFixedDelay(this::safeStep, step, step, TimeUnit.MILLISECONDS);
        } else {
            reclaim();
        }
        long renew = Math.max(1_000, config.lease().toMillis() / 3);
        tick.scheduleWithFixedDelay(this::safeTick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
        tick.scheduleWithFixedDelay(this::renewLeases, renew, renew, TimeUnit.MILLISECONDS);
        if (config.resumeOnStart()) {
            tick.scheduleWithFixedDelay(this::safeReclaim, RECLAIM_MILLIS, RECLAIM_MILLIS, TimeUnit.MILLISECONDS);
        }
        return this;
    }

    // --- RolloutRun.Context ---------------------------------------------------------------------------------

    @Override
    public RolloutStore store() {
        return store;
    }

    @Override
    public Recorder recorder() {
        return recorder;
    }

    @Override
    public EventFeed feed() {
        return feed;
    }

    @Override
    public Agents agents() {
        return config.agents();
    }

    @Override
    public Clock clock() {
        return clock;
    }

    @Override
    public Reconciler.Sleeper sleeper() {
        return sleeper;
    }

    @Override
    public void ended(RolloutRun run) {
        running.remove(run.id());
        try {
            store.release(run.lease());
        } catch (RuntimeException e) {
            LOG.warning("rollout " + run.id() + ": cannot release its lease (it runs out by itself): " + e.getMessage());
        }
        if (!tick.isShutdown()) {
            tick.execute(this::safeTick); // a queued rollout of the same app may go now
        }
    }

    Owner owner() {
        return me;
    }

    Config config() {
        return config;
    }

    RolloutRun run(long id) {
        return running.get(id);
    }

    Lease queuedLease(long id) {
        return queued.get(id);
    }

    // --- submissions -------------------------------------------------------------------------------------------

    /**
     * Refuses a write (submit, cancel, resume, proceed, a serial) unless this controller runs the rollouts: embedded, or the
     * served controller holding the leadership lease. The refusal names the active controller.
     */
    void requireActive(String what) {
        if (config.resumeOnStart()) {
            Leadership.requireActive(leadership, what);
        }
    }

    /** Records and starts (or queues) a rollout; refusals name what and why (see the API). */
    public SubmitResponse submit(SubmitRequest req, String operator) {
        requireActive("submit");
        SubmissionCheck c = SubmissionCheck.of(req.getManifest(), req.getTargets(), req.getMessage(), config.trust(), clock);
        List<Node> nodes = Agents.nodes(req.getTargets());
        config.agents().client(req.getTargets(), nodes); // refuses plaintext to a node off loopback, missing TLS files
        Strategy strategy;
        try {
            strategy = Strategy.fromProto(req.getStrategy());
        } catch (CliException e) {
            throw ControllerException.invalid(e.getMessage());
        }
        List<List<Node>> waves = strategy.waves(nodes);
        List<Integer> waveOf = new ArrayList<>();
        for (int w = 0; w < waves.size(); w++) {
            for (int i = 0; i < waves.get(w).size(); i++) {
                waveOf.add(w);
            }
        }
        RolloutKind kind = req.getKind() == RolloutKind.ROLLOUT_KIND_UNSPECIFIED ? RolloutKind.ROLLOUT_DEPLOY : req.getKind();
        reclaim();
        RolloutStore.Submitted s;
        try {
            s = store.submit(new RolloutStore.NewRollout(c.manifest().getApp(), c.environment(), kind,
                    c.manifest().getSerial(), c.digest(), c.keyIds(), req.getManifest(), req.getTargets(),
                    strategy.toProto(strategy.budget(nodes.size())), operator, req.getMessage(), req.getRetryOf(), waveOf),
                    req.getQueue(), me.id(), clock.millis(), config.lease().toMillis());
        } catch (RolloutStore.ActiveRolloutException e) {
            throw ControllerException.precondition(busy(e.active()));
        }
        if (s.rollout().getOutcome() == RolloutState.ROLLOUT_QUEUED) {
            queued.put(s.rollout().getId(), s.lease());
        } else {
            startRun(s.lease(), RolloutRun.Start.NEW, operator);
        }
        SubmitResponse.Builder out = SubmitResponse.newBuilder().setRollout(s.rollout());
        if (s.queuedBehind() != null) {
            out.setQueuedBehind(s.queuedBehind());
        }
        return out.build();
    }

    /** The refusal of a second rollout of an app and environment, naming the active one. */
    static String busy(RolloutSummary a) {
        String what = "rollout " + a.getId() + " of " + a.getApp() + (a.getEnvironment().isEmpty() ? ""
                : " (" + a.getEnvironment() + ")") + " serial " + a.getSerial();
        String who = ", submitted by " + a.getOperator() + " at " + Timestamps.toString(a.getSubmitted())
                + (a.hasStarted() ? " and started " + Timestamps.toString(a.getStarted()) : "");
        return switch (a.getOutcome()) {
            case ROLLOUT_INTERRUPTED -> what + " was interrupted" + who + ": " + Outcomes.progress(a) + "; `pinfleet resume "
                    + a.getId() + "` continues it, `pinfleet cancel " + a.getId() + "` ends it";
            case ROLLOUT_QUEUED -> what + " is queued first" + who + "; --queue waits behind it";
            default -> what + " is " + Outcomes.key(a.getOutcome()) + who + ": " + Outcomes.progress(a)
                    + "; --queue waits behind it, `pinfleet watch " + a.getId() + "` follows it, `pinfleet cancel "
                    + a.getId() + "` stops it";
        };
    }

    void startRun(Lease lease, RolloutRun.Start start, String by) {
        startRun(new RolloutRun(this, lease, start, by));
    }

    void startRun(RolloutRun run) {
        running.put(run.id(), run);
        queued.remove(run.id());
        try {
            runners.execute(run);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            running.remove(run.id());
            store.release(run.lease());
        }
    }

    // --- reads and operator actions ----------------------------------------------------------------------------

    public void watch(long id, long afterSeq, ServerCallStreamObserver<dev.pinfleet.proto.v1.RolloutEvent> out) {
        record(id);
        feed.watch(id, afterSeq, out);
    }

    RolloutRecord record(long id) {
        return store.record(id).orElseThrow(() -> ControllerException.notFound(id));
    }

    public RolloutSummary cancel(long id, String operator) {
        requireActive("cancel " + id);
        return requests.cancel(id, operator);
    }

    public RolloutSummary resume(long id, String operator) {
        requireActive("resume " + id);
        return requests.resume(id, operator);
    }

    public RolloutSummary proceed(long id, boolean go, String operator) {
        requireActive((go ? "proceed " : "stop ") + id);
        return requests.proceed(id, go, operator);
    }

    /** Issues the next serial of {@code app} (see the API's NextSerial), audited as "serial". */
    public NextSerialResponse nextSerial(String app, String operator) {
        String bad = Names.checkApp(app);
        if (bad != null) {
            throw ControllerException.invalid(bad);
        }
        requireActive("serial of app " + app); // a write: the records it raises are the active one's to keep
        long now = clock.millis();
        RolloutStore.IssuedSerial s = store.issueSerial(app, now / 1000, now);
        store.audit(operator, "serial", 0, "app " + app + ": serial " + s.serial() + (s.lastKnown() == 0
                ? " (none known: the controller's clock)" : " (highest known " + s.lastKnown() + ")"), now);
        return NextSerialResponse.newBuilder().setApp(app).setSerial(s.serial()).setLastKnown(s.lastKnown()).build();
    }

    public RolloutStore records() {
        return store;
    }

    public Fleet fleet() {
        return fleet;
    }

    /** Ends a queued rollout before it started: every node skipped. */
    void cancelQueued(Lease lease, String by) {
        RolloutRecord r = record(lease.rolloutId());
        FleetReport.Builder report = FleetReport.newBuilder().setDeployId(Long.toString(r.id()))
                .setApp(r.summary().getApp()).setSerial(r.summary().getSerial()).setManifestDigest(r.summary().getDigest())
                .setOperator(r.summary().getOperator()).setStrategy(r.strategy()).setStopped("cancelled by " + by
                        + " while queued").setInventory(r.targets().getInventory()).setLimit(r.targets().getLimit())
                .setMessage(r.summary().getMessage()).setRetryOf(r.summary().getRetryOf())
                .setFinished(Timestamps.fromMillis(clock.millis()));
        for (Node n : Agents.nodes(r.targets())) {
            report.addNodes(NodeReport.newBuilder().setNode(n.name()).setAddress(n.address())
                    .setOutcome(NodeOutcome.NODE_SKIPPED).setError(n.name() + ": not started: cancelled by " + by
                            + " while queued"));
        }
        Recording rc = new Recording(lease, r.lastSeq(), recorder, feed, clock);
        rc.record(List.of(RolloutEvent.newBuilder().setState(StateChange.newBuilder().setTo(RolloutState.ROLLOUT_CANCELLED)
                .setReason("cancelled while queued").setBy(by)), RolloutEvent.newBuilder().setFinished(report)),
                RolloutState.ROLLOUT_CANCELLED, 0, clock.millis(), report.getStopped(), report.build(), true, true);
        queued.remove(lease.rolloutId());
        store.release(lease);
    }

    // --- periodic work -------------------------------------------------------------------------------------------

    private void safeTick() {
        try {
            requests.poll(running.values(), queued.values());
        } catch (RuntimeException e) {
            LOG.warning("controller: " + e.getMessage());
        }
    }

    /** Starts the queued rollout {@code lease} names when its app and environment are free; true when it did. */
    boolean startIfFree(Lease lease, RolloutRecord r) {
        RolloutEvent go = RolloutEvent.newBuilder().setRolloutId(lease.rolloutId()).setSeq(r.lastSeq() + 1)
                .setEpoch(lease.epoch()).setAtUnixMs(clock.millis()).setState(StateChange.newBuilder()
                        .setTo(RolloutState.ROLLOUT_RUNNING).setReason("its turn came")).build();
        if (store.startQueued(lease, go, clock.millis())) {
            feed.committed(lease.rolloutId());
            startRun(lease, RolloutRun.Start.NEW, "");
            return true;
        }
        return false;
    }

    private void renewLeases() {
        long now = clock.millis();
        long ms = config.lease().toMillis();
        try {
            for (RolloutRun r : running.values()) {
                if (!store.renew(r.lease(), now, ms)) {
                    // The controller that took it over runs its nodes now: stop here without cancelling their deploys.
                    LOG.warning("rollout " + r.id() + ": lease lost to another controller; stopping here");
                    r.stop("another controller took the rollout over");
                }
            }
            queued.values().removeIf(l -> !store.renew(l, now, ms));
        } catch (RuntimeException e) {
            LOG.warning("controller: cannot renew leases: " + e.getMessage());
        }
    }

    private void safeReclaim() {
        try {
            reclaim();
        } catch (RuntimeException e) {
            LOG.warning("controller: " + e.getMessage());
        }
    }

    private void safeStep() {
        try {
            leadership.step();
        } catch (RuntimeException e) {
            LOG.warning("controller: " + e.getMessage());
        }
    }

    /**
     * Whether this controller runs the rollouts now: embedded, or served and holding the leadership lease (a standby,
     * or a served controller not started yet, does not).
     */
    public boolean leads() {
        return mayRun();
    }

    /** Whether this controller may run rollouts now: embedded, or served and holding the leadership lease. */
    private boolean mayRun() {
        Leadership l = leadership;
        return !config.resumeOnStart() || l != null && l.active();
    }

    /**
     * Stops every rollout run here without touching its agents (the deploys in flight finish there) and forgets the
     * queued ones: the active controller takes them all over.
     */
    private void stopAll(String why) {
        running.values().forEach(r -> r.stop(why));
        queued.clear();
    }

    /**
     * Whether {@code r}'s controller is gone: it let go, its process ended, or its lease ran out. For the active
     * served controller, any other holder is gone: only the holder of the leadership lease runs rollouts, so another
     * holder is a controller that lost it (and its late writes fail on the rollout's epoch once taken over).
     */
    boolean gone(RolloutRecord r) {
        Leadership l = leadership;
        if (l != null && l.active()) {
            return !r.leaseOwner().equals(me.id());
        }
        return r.leaseOwner().isEmpty() || me.isGone(r.leaseOwner()) || r.leaseExpiresMs() < clock.millis();
    }

    /** Rollouts whose controller is gone: resumed when serving (and active), else marked INTERRUPTED. */
    void reclaim() {
        if (!mayRun()) {
            return;
        }
        for (RolloutRecord r : store.unfinished()) {
            if (r.leaseOwner().equals(me.id()) || !gone(r)) {
                continue;
            }
            if (config.resumeOnStart()) {
                store.takeOver(r.id(), r.leaseEpoch(), me.id(), clock.millis(), config.lease().toMillis())
                        .ifPresent(l -> adopt(r, l, RolloutRun.Start.ADOPTED, ""));
            } else if (r.state() != RolloutState.ROLLOUT_INTERRUPTED) {
                store.takeOver(r.id(), r.leaseEpoch(), me.id(), clock.millis(), config.lease().toMillis())
                        .ifPresent(l -> {
                            new Recording(l, r.lastSeq(), recorder, feed, clock).state(StateChange.newBuilder()
                                    .setTo(RolloutState.ROLLOUT_INTERRUPTED).setReason("its controller ("
                                            + Owner.describe(r.leaseOwner()) + ") stopped before it ended"), false);
                            store.release(l);
                        });
            }
        }
    }

    /** Runs (or queues again) a rollout this controller took over. */
    void adopt(RolloutRecord r, Lease l, RolloutRun.Start start, String by) {
        if (r.state() == RolloutState.ROLLOUT_QUEUED || !r.summary().hasStarted()) {
            if (r.state() != RolloutState.ROLLOUT_QUEUED) {
                new Recording(l, r.lastSeq(), recorder, feed, clock).state(StateChange.newBuilder()
                        .setTo(RolloutState.ROLLOUT_QUEUED).setReason("queued again").setBy(by), false);
            }
            queued.put(r.id(), l);
            return;
        }
        startRun(l, start, by);
    }

    /** Stops: no new node starts; running rollouts are recorded INTERRUPTED (their deploys in flight finish). */
    @Override
    public void close() {
        tick.shutdownNow();
        runners.shutdownNow();
        try {
            if (!runners.awaitTermination(STOP_SECONDS, TimeUnit.SECONDS)) {
                LOG.warning("controller: rollouts still stopping after " + STOP_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Lease l : queued.values()) {
            try {
                store.release(l);
            } catch (RuntimeException e) {
                LOG.warning("controller: " + e.getMessage());
            }
        }
        queued.clear();
        recorder.close();
        Leadership l = leadership;
        if (l != null) {
            l.resign(); // after the rollouts are recorded interrupted: the standby resumes them at once
        }
        feed.close();
    }
}

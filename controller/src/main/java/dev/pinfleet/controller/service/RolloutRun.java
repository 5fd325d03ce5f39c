package dev.pinfleet.controller.service;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.rollout.AgentClient;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.rollout.Rollout;
import dev.pinfleet.controller.rollout.Strategy;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.RolloutStore.NodeRecord;
import dev.pinfleet.controller.store.RolloutStore.RolloutRecord;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.StateChange;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Drives one rollout record to its end on the thread that runs it: (on resume) asks the nodes that were in flight
 * where they are, runs the rollout engine with what already ended, waits at the pause after the canary for the
 * operator, honours cancel, and records the final report and state once. When the controller stops meanwhile, the
 * rollout is recorded INTERRUPTED (resume continues it); the deploys in flight finish on their agents.
 */
final class RolloutRun implements Runnable {
    private static final Logger LOG = Logger.getLogger(RolloutRun.class.getName());

    /** What the run needs from its controller. */
    interface Context {
        RolloutStore store();

        Recorder recorder();

        EventFeed feed();

        Agents agents();

        java.time.Clock clock();

        Reconciler.Sleeper sleeper();

        /** Called once the run is over (its lease released or lost). */
        void ended(RolloutRun run);
    }

    /** How the run came to be. */
    enum Start {
        /** A new rollout (or a queued one whose turn came). */
        NEW,
        /** An interrupted rollout an operator resumed: it goes on past the pause after the canary. */
        RESUMED,
        /** An interrupted rollout this controller found at start: it pauses again where it paused. */
        ADOPTED
    }

    private final Context ctx;
    private final long id;
    private final RolloutStore.Lease lease;
    private final Start start;
    private final String resumedBy;
    private final Object decision = new Object();
    private Boolean proceed; // guarded by decision
    private String decidedBy = ""; // guarded by decision
    private volatile String cancelledBy;
    private volatile Rollout engine;
    private volatile Recording recording;
    private volatile boolean paused;
    private volatile Thread thread;
    private volatile String stopReason;

    RolloutRun(Context ctx, RolloutStore.Lease lease, Start start, String resumedBy) {
        this.ctx = ctx;
        this.id = lease.rolloutId();
        this.lease = lease;
        this.start = start;
        this.resumedBy = resumedBy;
    }

    long id() {
        return id;
    }

    RolloutStore.Lease lease() {
        return lease;
    }

    /**
     * Cancel: no new node starts, the agents of the nodes in flight are asked to stop their deploys before they switch;
     * the rollout ends CANCELLED once those nodes end.
     */
    void cancel(String by) {
        if (cancelledBy != null) {
            return;
        }
        cancelledBy = by;
        Rollout e = engine;
        if (e != null) {
            e.cancel("cancelled by " + by);
        }
        Recording r = recording;
        if (r != null && !paused) {
            r.state(StateChange.newBuilder().setTo(RolloutState.ROLLOUT_CANCELLING).setReason("cancel asked: no new node"
                    + " starts; " + (e == null ? 0 : e.inFlight().size()) + " node(s) in flight").setBy(by), true);
        }
        decide(false, by);
    }

    /** The operator's answer at the pause after the canary. */
    void decide(boolean go, String by) {
        synchronized (decision) {
            if (proceed == null) {
                proceed = go;
                decidedBy = by;
            }
            decision.notifyAll();
        }
    }

    boolean isPaused() {
        return paused;
    }

    /**
     * Stops the run here as a controller stop does (no new node starts; the deploys in flight finish on their agents;
     * the record says INTERRUPTED when this controller may still write it): another controller takes the rollout over.
     */
    void stop(String why) {
        stopReason = why;
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }

    private String stopped() {
        String why = stopReason;
        return why != null ? why : "the controller running it stopped";
    }

    @Override
    public void run() {
        thread = Thread.currentThread();
        try {
            if (stopReason != null) {
                throw new InterruptedException();
            }
            runRollout();
        } catch (Recording.LeaseLostException e) {
            LOG.warning(e.getMessage());
        } catch (InterruptedException e) {
            interrupted(stopped());
        } catch (RuntimeException e) {
            if (Thread.interrupted()) { // stopped while recording: the interrupt is the cause, and must not stop the note
                interrupted(stopped());
            } else {
                LOG.warning("rollout " + id + " stopped: " + e);
                interrupted("its controller could not go on: " + e.getMessage());
            }
        } finally {
            thread = null;
            Thread.interrupted(); // a stop that came late must not reach the pool's next task
            ctx.ended(this);
        }
    }

    private void interrupted(String why) {
        Recording r = recording;
        if (r == null) {
            return;
        }
        try {
            r.record(List.of(RolloutEvent.newBuilder().setState(StateChange.newBuilder()
                    .setTo(RolloutState.ROLLOUT_INTERRUPTED).setReason(why + "; the deploys in flight finish on their"
                            + " agents; `pinfleet resume " + id + "` continues it"))), RolloutState.ROLLOUT_INTERRUPTED,
                    0, 0, null, null, false, true);
        } catch (RuntimeException e) {
            LOG.warning("rollout " + id + ": cannot record that it was interrupted: " + e.getMessage());
        }
    }

    private void runRollout() throws InterruptedException {
        RolloutStore store = ctx.store();
        RolloutRecord rec = store.record(id).orElseThrow(() -> ControllerException.notFound(id));
        Manifest m;
        try {
            m = ManifestCodec.parse(rec.envelope().getPayload().toByteArray());
        } catch (ManifestException e) {
            throw new IllegalStateException("rollout " + id + ": its recorded manifest does not parse: " + e.getMessage());
        }
        String digest = rec.summary().getDigest();
        List<Node> nodes = Agents.nodes(rec.targets());
        Strategy strategy = Strategy.fromProto(rec.strategy());
        Recording rc = new Recording(lease, rec.lastSeq(), ctx.recorder(), ctx.feed(), ctx.clock());
        recording = rc;
        AgentClient client = ctx.agents().client(rec.targets(), nodes);
        Map<String, NodeReport> done = new LinkedHashMap<>();
        List<Reconciler.InFlight> inFlight = new ArrayList<>();
        Map<String, Node> byName = new LinkedHashMap<>();
        nodes.forEach(n -> byName.put(n.name(), n));
        for (NodeRecord n : store.nodes(id)) {
            if (n.report() != null) {
                done.put(n.node(), n.report());
            } else if (n.outcome().equals(Outcomes.RUNNING)) {
                inFlight.add(new Reconciler.InFlight(byName.get(n.node()), n.wave(), n.startedMs()));
            }
        }
        boolean proceeded = proceededBefore(store);
        if (start != Start.NEW) {
            rc.state(StateChange.newBuilder().setTo(rec.state() == RolloutState.ROLLOUT_CANCELLING || cancelledBy != null
                    ? RolloutState.ROLLOUT_CANCELLING : RolloutState.ROLLOUT_RUNNING)
                    .setReason(start == Start.RESUMED ? "resumed" : "taken over by a controller that found it interrupted")
                    .setBy(resumedBy), true);
            if (rec.state() == RolloutState.ROLLOUT_CANCELLING && cancelledBy == null) {
                cancelledBy = rec.summary().getStopped().replaceFirst("^cancelled by ", "");
            }
            if (!inFlight.isEmpty()) {
                List<NodeReport> found = new Reconciler(client, ctx.clock(), ctx.sleeper()).reconcile(inFlight, m.getApp(),
                        digest, m.getSerial(), strategy.nodeDeadline(), strategy.forks());
                StringBuilder note = new StringBuilder("resume asked the " + found.size() + " node(s) in flight when the"
                        + " controller stopped:");
                for (NodeReport r : found) {
                    rc.nodeFinished(r);
                    done.put(r.getNode(), r);
                    note.append(' ').append(r.getNode()).append(r.getReconciled() ? " is on the release;"
                            : " is not (" + Outcomes.key(r.getOutcome()) + ");");
                }
                rc.note(note.substring(0, note.length() - 1));
            }
        }
        Rollout e = new Rollout(strategy, client, ctx.clock());
        engine = e;
        if (cancelledBy != null) {
            e.cancel("cancelled by " + cancelledBy);
        }
        boolean passPause = proceeded || start == Start.RESUMED && rec.state() == RolloutState.ROLLOUT_PAUSED;
        FleetReport report = e.run(Long.toString(id), rec.summary().getOperator(), rec.envelope(), m, digest, nodes, done,
                rc, (canary, left) -> passPause || gate(rc, canary, left));
        report = report.toBuilder().setInventory(rec.targets().getInventory()).setLimit(rec.targets().getLimit())
                .setRetryOf(rec.summary().getRetryOf()).setMessage(rec.summary().getMessage()).build();
        RolloutState end = cancelledBy != null || Rollout.OPERATOR_STOPPED.equals(report.getStopped())
                ? RolloutState.ROLLOUT_CANCELLED
                : report.getNodesList().stream().allMatch(n -> Outcomes.isSuccess(n.getOutcome()))
                ? RolloutState.ROLLOUT_SUCCEEDED : RolloutState.ROLLOUT_FAILED;
        long now = ctx.clock().millis();
        rc.record(List.of(RolloutEvent.newBuilder().setState(StateChange.newBuilder().setTo(end)
                .setReason(summary(report)).setBy(cancelledBy != null ? cancelledBy : "")),
                RolloutEvent.newBuilder().setFinished(report)), end, 0, now, report.getStopped(), report, true, true);
    }

    /** Whether the operator already said go at the pause (before the controller stopped). */
    private boolean proceededBefore(RolloutStore store) {
        boolean pausedSeen = false;
        long after = 0;
        while (true) {
            List<RolloutEvent> page = store.events(id, after, EventFeed.PAGE);
            for (RolloutEvent ev : page) {
                after = ev.getSeq();
                if (ev.hasState() && ev.getState().getTo() == RolloutState.ROLLOUT_PAUSED) {
                    pausedSeen = true;
                } else if (pausedSeen && ev.hasState() && ev.getState().getTo() == RolloutState.ROLLOUT_RUNNING
                        && ev.getState().getReason().startsWith("proceeding")) {
                    return true;
                }
            }
            if (page.size() < EventFeed.PAGE) {
                return false;
            }
        }
    }

    private boolean gate(Recording rc, List<NodeReport> canary, int left) throws InterruptedException {
        int ok = (int) canary.stream().filter(r -> r != null && Outcomes.isSuccess(r.getOutcome())).count();
        paused = true;
        rc.state(StateChange.newBuilder().setTo(RolloutState.ROLLOUT_PAUSED).setReason("canary done: " + ok + " of "
                + canary.size() + " ok, " + left + " node(s) left; waiting for the operator").setCanaryOk(ok)
                .setCanaryTotal(canary.size()).setNodesLeft(left), false);
        boolean go;
        String by;
        synchronized (decision) {
            while (proceed == null) {
                decision.wait();
            }
            go = proceed;
            by = decidedBy;
        }
        paused = false;
        if (go && cancelledBy == null) {
            rc.state(StateChange.newBuilder().setTo(RolloutState.ROLLOUT_RUNNING).setReason("proceeding after the canary")
                    .setBy(by), true);
            return true;
        }
        rc.state(StateChange.newBuilder().setTo(RolloutState.ROLLOUT_CANCELLING).setReason(cancelledBy != null
                ? "cancelled at the pause after the canary" : Rollout.OPERATOR_STOPPED)
                .setBy(cancelledBy != null ? cancelledBy : by), true);
        return false;
    }

    private static String summary(FleetReport r) {
        StringBuilder b = new StringBuilder();
        Rollout.counts(r).forEach((o, c) -> b.append(b.length() == 0 ? "" : ", ").append(c).append(' ')
                .append(Outcomes.key(o)));
        return b + (r.getStopped().isEmpty() ? "" : "; stopped: " + r.getStopped()) + "; ended "
                + Timestamps.toString(r.getFinished());
    }
}

package dev.pinfleet.controller.service;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.RolloutStore.Lease;
import dev.pinfleet.controller.store.RolloutStore.RolloutRecord;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import java.util.Collection;
import java.util.List;

/**
 * The operator's actions on a rollout that exists: cancel, resume, and the answer at the pause. An action on a
 * rollout this controller runs takes effect at once; one that another live controller runs is left as a request
 * in the record, which that controller picks up within a tick; one whose controller is gone is taken over here.
 * Every action is in the audit log.
 */
final class Requests {
    private final Controller c;

    Requests(Controller c) {
        this.c = c;
    }

    private RolloutStore store() {
        return c.records();
    }

    private static boolean ended(RolloutRecord r) {
        return !Outcomes.ACTIVE.contains(r.state());
    }

    private static String endedText(RolloutRecord r) {
        return "rollout " + r.id() + " has ended: " + Outcomes.key(r.state())
                + (r.summary().hasEnded() ? " at " + Timestamps.toString(r.summary().getEnded()) : "");
    }

    private void audit(String op, String action, RolloutRecord r, String detail) {
        store().audit(op, action, r.id(), r.summary().getApp() + " serial " + r.summary().getSerial() + ": " + detail,
                c.clock().millis());
    }

    private RolloutSummary summary(long id) {
        return c.record(id).summary();
    }

    private Lease takeOver(RolloutRecord r) {
        return store().takeOver(r.id(), r.leaseEpoch(), c.owner().id(), c.clock().millis(), leaseMs())
                .orElseThrow(() -> ControllerException.precondition("rollout " + r.id()
                        + " was just taken over by another controller; try again"));
    }

    private long leaseMs() {
        return c.config().lease().toMillis();
    }

    RolloutSummary cancel(long id, String op) {
        RolloutRecord r = c.record(id);
        if (ended(r)) {
            throw ControllerException.precondition(endedText(r) + "; nothing to cancel");
        }
        RolloutRun run = c.run(id);
        Lease q = c.queuedLease(id);
        if (run != null) {
            audit(op, "cancel", r, "no new node starts; the deploys in flight are cancelled");
            run.cancel(op);
        } else if (q != null) {
            audit(op, "cancel", r, "cancelled while queued");
            c.cancelQueued(q, op);
        } else if (!c.gone(r)) {
            audit(op, "cancel", r, "asked " + Owner.describe(r.leaseOwner()) + ", which runs it");
            store().request(id, "cancel", op);
        } else {
            audit(op, "cancel", r, "its controller is gone: ended here after asking the nodes in flight where they are");
            Lease l = takeOver(r);
            if (!r.summary().hasStarted()) {
                c.cancelQueued(l, op);
            } else {
                RolloutRun taken = new RolloutRun(c, l, RolloutRun.Start.RESUMED, op);
                taken.cancel(op);
                c.startRun(taken);
            }
        }
        return summary(id);
    }

    RolloutSummary resume(long id, String op) {
        RolloutRecord r = c.record(id);
        if (ended(r)) {
            throw ControllerException.precondition(endedText(r) + "; nothing to resume");
        }
        RolloutRun run = c.run(id);
        if (r.state() == RolloutState.ROLLOUT_PAUSED && run != null) {
            audit(op, "resume", r, "go on after the canary");
            run.decide(true, op);
        } else if (r.state() == RolloutState.ROLLOUT_PAUSED && !c.gone(r)) {
            audit(op, "resume", r, "go on after the canary (asked " + Owner.describe(r.leaseOwner()) + ")");
            store().request(id, "proceed", op);
        } else if (run != null || c.queuedLease(id) != null || !c.gone(r)) {
            throw ControllerException.precondition("rollout " + id + " is " + Outcomes.key(r.state()) + " ("
                    + Owner.describe(r.leaseOwner()) + " runs it): nothing to resume; `pinfleet watch " + id
                    + "` follows it");
        } else {
            audit(op, "resume", r, "continued after asking the nodes in flight where they are");
            c.adopt(r, takeOver(r), RolloutRun.Start.RESUMED, op);
        }
        return summary(id);
    }

    RolloutSummary proceed(long id, boolean go, String op) {
        RolloutRecord r = c.record(id);
        if (r.state() != RolloutState.ROLLOUT_PAUSED) {
            throw ControllerException.precondition("rollout " + id + " is not paused: it is " + Outcomes.key(r.state()));
        }
        RolloutRun run = c.run(id);
        String action = go ? "proceed" : "stop";
        audit(op, action, r, go ? "go on after the canary" : "stop after the canary: the other nodes are skipped");
        if (run != null) {
            run.decide(go, op);
        } else if (!c.gone(r)) {
            store().request(id, action, op);
        } else {
            throw ControllerException.precondition("rollout " + id + "'s controller (" + Owner.describe(r.leaseOwner())
                    + ") is gone: `pinfleet resume " + id + "` continues it, `pinfleet cancel " + id + "` ends it");
        }
        return summary(id);
    }

    /** Requests other processes left for rollouts run here; queued rollouts whose turn came. */
    void poll(Collection<RolloutRun> runs, Collection<Lease> queued) {
        for (RolloutRun run : List.copyOf(runs)) {
            store().record(run.id()).ifPresent(r -> {
                switch (r.request()) {
                    case "cancel" -> run.cancel(r.requestBy());
                    case "proceed" -> run.decide(true, r.requestBy());
                    case "stop" -> run.decide(false, r.requestBy());
                    default -> {
                        return;
                    }
                }
                store().apply(List.of(new RolloutStore.Change(run.lease(), List.of(), null, 0, 0, null, null, true)));
            });
        }
        for (Lease l : List.copyOf(queued)) {
            RolloutRecord r = store().record(l.rolloutId()).orElse(null);
            if (r == null) {
                continue;
            }
            if (r.request().equals("cancel")) {
                c.cancelQueued(l, r.requestBy());
            } else {
                c.startIfFree(l, r);
            }
        }
    }
}

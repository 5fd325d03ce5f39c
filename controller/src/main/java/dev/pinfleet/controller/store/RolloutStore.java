package dev.pinfleet.controller.store;

import dev.pinfleet.proto.v1.OperatorAction;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Strategy;
import dev.pinfleet.proto.v1.Targets;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The controller's records: rollouts, their nodes, their events, and the audit log. The record is the truth: the
 * live stream, {@code show}, the reports and resume are read from here. Writes about a running rollout are made
 * by the holder of its lease and carry the lease's epoch; a write whose epoch is no longer the rollout's is refused
 * (a controller that lost the lease cannot change the record). Every method throws {@link StoreException} when the
 * database fails, naming it and the cause; what was recorded before stays.
 */
public interface RolloutStore extends AutoCloseable {
    /**
     * A rollout as submitted.
     *
     * @param waves the wave of each target node, in target order
     */
    record NewRollout(String app, String environment, RolloutKind kind, long serial, String digest, List<String> keyIds,
            SignedManifest envelope, Targets targets, Strategy strategy, String operator, String message, String retryOf,
            List<Integer> waves) {}

    /** Who holds a rollout, and the epoch its writes carry. */
    record Lease(long rolloutId, String owner, long epoch) {}

    /** A new record: the rollout (running or queued), its lease, and with a queued one the rollout it waits for. */
    record Submitted(RolloutSummary rollout, Lease lease, RolloutSummary queuedBehind) {}

    /** Refused: another rollout holds the app and environment. */
    final class ActiveRolloutException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final transient RolloutSummary active;

        public ActiveRolloutException(RolloutSummary active) {
            super("rollout " + active.getId() + " of " + active.getApp() + " is active");
            this.active = active;
        }

        public RolloutSummary active() {
            return active;
        }
    }

    /**
     * The whole record of one rollout.
     *
     * @param lastSeq       position of its last recorded event
     * @param leaseOwner    who holds its lease (empty: nobody)
     * @param leaseExpiresMs when that lease runs out unless renewed, milliseconds since the Unix epoch
     * @param request       an operator's pending request for the lease holder ("cancel", "proceed", "stop"; empty: none)
     * @param report        the final report (null while active)
     */
    record RolloutRecord(RolloutSummary summary, Targets targets, Strategy strategy, SignedManifest envelope,
            long lastSeq, String leaseOwner, long leaseEpoch, long leaseExpiresMs, String request, String requestBy,
            FleetReport report) {
        public long id() {
            return summary.getId();
        }

        public RolloutState state() {
            return summary.getOutcome();
        }
    }

    /**
     * One node of a rollout as recorded.
     *
     * @param outcome   "pending", "running", or the ended node's outcome (see {@link Outcomes})
     * @param report    the ended node's report (null while pending or running)
     */
    record NodeRecord(String node, String address, int wave, String outcome, long startedMs, NodeReport report) {}

    /**
     * A change to one rollout by its lease holder: events to append (their {@code seq} already set, following the
     * record's last one), and optionally a new state and what goes with it.
     *
     * @param state     new state, or null to keep it; a state that holds the app and environment keeps the slot the
     *                  rollout has (it takes one only at submit or {@link #startQueued}), the others free it
     * @param startedMs when it started (0: unchanged)
     * @param endedMs   when it ended (0: unchanged)
     * @param stopped   why no new node starts (null: unchanged)
     * @param report    the final report, written once (null: none yet)
     * @param clearRequest whether the pending operator request was handled
     */
    record Change(Lease lease, List<RolloutEvent> events, RolloutState state, long startedMs, long endedMs, String stopped,
            FleetReport report, boolean clearRequest) {
        public static Change events(Lease lease, List<RolloutEvent> events) {
            return new Change(lease, events, null, 0, 0, null, null, false);
        }
    }

    /**
     * Records a new rollout, its nodes (pending) and its first event, and the audit entry, and gives its lease to
     * {@code owner}. With {@code queue} it waits (QUEUED) when another rollout holds its app and environment;
     * without, that is an {@link ActiveRolloutException}.
     */
    Submitted submit(NewRollout r, boolean queue, String owner, long nowMs, long leaseMs);

    /**
     * Starts a queued rollout when its app and environment are free: RUNNING, with {@code event} (its state change).
     * False when another rollout holds them (or the lease is lost).
     */
    boolean startQueued(Lease lease, RolloutEvent event, long nowMs);

    /** Applies changes in order, in one transaction; per change, whether it was written (false: its lease is lost). */
    List<Boolean> apply(List<Change> changes);

    /** Takes over a rollout's lease when its epoch is still {@code expectedEpoch}; the new lease, else empty. */
    Optional<Lease> takeOver(long rolloutId, long expectedEpoch, String owner, long nowMs, long leaseMs);

    /** Extends the lease; false when it is no longer held with that epoch. */
    boolean renew(Lease lease, long nowMs, long leaseMs);

    /** Lets go of the lease now (the next controller may take it at once). */
    void release(Lease lease);

    /**
     * Which controller runs the rollouts on these records, as the database tells it at the time of asking.
     *
     * @param owner       the holder ({@code HOST/PID/START/INSTANCE}; empty: nobody)
     * @param address     host:port operators dial to reach it
     * @param epoch       one more each time another controller took the lease
     * @param expiresInMs how long its lease runs unless renewed, in milliseconds by the database's clock (0 or less:
     *                    it ran out)
     */
    record Leader(String owner, String address, long epoch, long expiresInMs) {
        /** Whether {@code who} holds the lease now. */
        public boolean heldBy(String who) {
            return owner.equals(who) && expiresInMs > 0;
        }

        /** Whether anybody holds it now. */
        public boolean held() {
            return !owner.isEmpty() && expiresInMs > 0;
        }
    }

    /**
     * Takes or renews the leadership lease for {@code owner}, reachable at {@code address}, for {@code leaseMs} by the
     * database's clock: when {@code owner} holds it already, nobody does, it ran out, or its holder is the one of epoch
     * {@code goneEpoch}, which the caller knows to be gone (0: none). Returns the leader after the attempt.
     */
    Leader lead(String owner, String address, long leaseMs, long goneEpoch);

    /** The leader now. */
    Leader leader();

    /** Lets go of the leadership lease when {@code owner} holds it (the standby may take it at once). */
    void resign(String owner);

    /** Leaves a request for the rollout's lease holder; false when the rollout has ended. */
    boolean request(long rolloutId, String request, String operator);

    /** Appends an audit entry. */
    void audit(String operator, String action, long rolloutId, String detail, long nowMs);

    Optional<RolloutRecord> record(long rolloutId);

    /** The rollout's events after {@code afterSeq}, in order, at most {@code limit}. */
    List<RolloutEvent> events(long rolloutId, long afterSeq, int limit);

    /** Its nodes in target order. */
    List<NodeRecord> nodes(long rolloutId);

    /** Rollouts newest first: of {@code app} (null: all), in {@code states} (empty: all), at most {@code limit}. */
    List<RolloutSummary> history(String app, Set<RolloutState> states, int limit);

    /** Records of every rollout that has not ended (queued, running, paused, cancelling, interrupted), oldest first. */
    List<RolloutRecord> unfinished();

    /** Audit entries newest first, about {@code rolloutId} (0: all), at most {@code limit}. */
    List<OperatorAction> audit(long rolloutId, int limit);

    /** A serial issued for an app, and the highest one known before it (0: none). */
    record IssuedSerial(long serial, long lastKnown) {}

    /**
     * Issues the next serial of {@code app}: one more than the highest serial issued or seen for it (see
     * {@link #sawSerial}) or recorded in one of its rollouts, else {@code whenUnknown}; recorded, so the next call
     * issues a greater one, even from another controller on the same database.
     */
    IssuedSerial issueSerial(String app, long whenUnknown, long nowMs);

    /** Notes that an agent reported {@code serial} applied for {@code app}: the next serial issued is greater. */
    void sawSerial(String app, long serial, long nowMs);

    /** Where the records are (for messages). */
    String where();

    @Override
    void close();
}

package dev.pinfleet.controller.service;

import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.RolloutStore.Leader;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.logging.Logger;

/**
 * Which of the served controllers on one database runs the rollouts: the holder of a lease row in the database
 * ({@link RolloutStore#lead}), renewed by the holder every {@link #STEP}, taken by a standby once it has run out.
 *
 * <p>Why a lease row and not a PostgreSQL advisory lock: a lock lives as long as its session, so a holder cut off
 * from the database keeps it until the server notices the dead connection (TCP keepalive, hours by default), and
 * the holder cannot tell how long it may still act. A row with an expiry frees itself at a known time, works the
 * same on SQLite, and gives an epoch that fences a deposed holder's late writes. Its expiry is set and compared by
 * the database's clock, so the controllers' clocks need not agree; each controller measures only durations on its
 * own monotonic clock: after a successful renewal sent at {@code t}, it acts as the leader until {@code t + lease}
 * at the latest (the database set the expiry later than {@code t}, so that is never after the real expiry), and
 * steps down by itself when it could not renew by then.
 *
 * <p>A holder known to be gone (its process on this host is no longer running: see {@link Owner#isGone}) is
 * replaced at once, without waiting for its lease to run out.
 */
final class Leadership {
    private static final Logger LOG = Logger.getLogger(Leadership.class.getName());
    /** How often the leader renews, and the standby tries to take over. */
    static final Duration STEP = Duration.ofSeconds(1);

    private final RolloutStore store;
    private final Owner me;
    private final String address;
    private final Duration lease;
    private final LongSupplier nanos;
    private final Runnable elected;
    private final Consumer<String> deposed;
    private volatile Leader known = new Leader("", "", 0, 0);
    private volatile boolean active;
    private volatile long deadlineNanos; // when this controller stops acting as the leader unless renewed
    private long epoch; // guarded by this: the epoch of the lease it holds

    /**
     * {@code elected} runs when this controller becomes the leader; {@code deposed} (with why) when it stops being it.
     */
    Leadership(RolloutStore store, Owner me, String address, Duration lease, LongSupplier nanos, Runnable elected,
            Consumer<String> deposed) {
        this.store = store;
        this.me = me;
        this.address = address;
        this.lease = lease;
        this.nanos = nanos;
        this.elected = elected;
        this.deposed = deposed;
    }

    /**
     * A served controller's first step: it leads, or waits as the standby; where the database is not {@code shared}
     * (SQLite) another controller's lease is a refusal to start, naming it.
     */
    static Leadership take(RolloutStore store, Owner me, String address, Duration lease, boolean shared,
            Runnable elected, Consumer<String> deposed) {
        Leadership l = new Leadership(store, me, address, lease, System::nanoTime, elected, deposed);
        l.step();
        if (!l.active() && !shared) {
            Leader other = l.known();
            throw ControllerException.precondition("database " + store.where() + ": the controller "
                    + Owner.describe(other.owner()) + " at " + other.address() + " serves these records; a SQLite"
                    + " file serves one controller at a time: stop that one, or put the records in PostgreSQL for an"
                    + " active and a standby controller");
        }
        return l;
    }

    /** Refuses a write unless {@code l} (null: not started yet) holds the lease; the refusal names the active one. */
    static void requireActive(Leadership l, String what) {
        if (l == null) {
            throw ControllerException.standby(what + ": the controller is starting: try again", "", "", "", 0);
        }
        if (!l.active()) {
            throw l.refusal(what);
        }
    }

    /** This controller's address, as it tells operators. */
    String address() {
        return address;
    }

    /**
     * Whether this controller runs the rollouts now: it holds the lease, and the lease cannot have run out yet (a
     * controller that was paused past it, e.g. stopped or starved, acts as the standby until its next step).
     */
    boolean active() {
        return active && nanos.getAsLong() - deadlineNanos < 0;
    }

    /** The leader as last seen. */
    Leader known() {
        return known;
    }

    /**
     * One renewal (leader) or attempt to take over (standby); tells the listener when that changes. A database that
     * cannot be reached leaves a standby waiting and deposes a leader once its lease would have run out.
     */
    synchronized void step() {
        long sent = nanos.getAsLong();
        Leader now;
        try {
            Leader seen = active ? known : store.leader();
            long gone = seen.held() && !seen.owner().equals(me.id()) && me.isGone(seen.owner()) ? seen.epoch() : 0;
            now = store.lead(me.id(), address, lease.toMillis(), gone);
        } catch (RuntimeException e) {
            if (active && nanos.getAsLong() - deadlineNanos >= 0) {
                depose("could not renew the leadership lease within lease-seconds=" + lease.toSeconds() + ": "
                        + e.getMessage());
            } else {
                LOG.warning("controller: " + e.getMessage());
            }
            return;
        }
        known = now;
        if (now.heldBy(me.id())) {
            if (active && now.epoch() != epoch) { // another controller held it in between: start afresh
                depose("controller " + Owner.describe(me.id()) + " held the lease again only after another one had");
            }
            deadlineNanos = sent + lease.toNanos();
            epoch = now.epoch();
            if (!active) {
                active = true;
                LOG.info("controller " + address + ": now the active controller (leadership epoch " + now.epoch() + ")");
                elected.run();
            }
        } else if (active) {
            depose("controller " + Owner.describe(now.owner()) + " at " + now.address() + " took the leadership lease");
        }
    }

    private void depose(String why) {
        active = false;
        LOG.warning("controller " + address + ": no longer the active controller: " + why);
        deposed.accept("this controller stopped being the active one (" + why + ")");
    }

    /** Lets go of the lease (at a clean stop): the standby takes over at its next step. */
    synchronized void resign() {
        if (active) {
            active = false;
            try {
                store.resign(me.id());
            } catch (RuntimeException e) {
                LOG.warning("controller: " + e.getMessage() + " (the lease runs out by itself)");
            }
        }
    }

    /** The refusal of a write sent to this standby, naming the active controller. */
    ControllerException refusal(String what) {
        Leader l = known;
        boolean held = l.held() && !l.owner().equals(me.id());
        String msg = what + ": refused by the standby controller at " + address + ": "
                + (held ? "the active controller is " + Owner.describe(l.owner()) + " at " + l.address()
                        + "; send it there (pinfleet does by itself when --controller lists both)"
                        : "no controller is active right now (the last one's lease ran out " + Math.max(0, -l.expiresInMs())
                                + " ms ago); this one takes over within " + STEP.toSeconds() + " s: try again");
        return ControllerException.standby(msg, held ? l.address() : "", held ? Owner.describe(l.owner()) : "", address,
                held ? l.expiresInMs() : 0);
    }
}

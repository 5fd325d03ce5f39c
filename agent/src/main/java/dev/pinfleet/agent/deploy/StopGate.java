package dev.pinfleet.agent.deploy;

import dev.pinfleet.proto.v1.CancelState;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Phase;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The one deploy an agent runs at a time, and the requests to stop it: the agent's shutdown or a Cancel call naming
 * it. A stop is honoured up to the point of no return, the start of {@link Phase#SWITCH}: as each phase up to that
 * one begins, a requested stop ends the deploy; while it verifies, plans or fetches ({@link #INTERRUPTIBLE}) its
 * thread is also interrupted, which cancels the downloads. An install in progress is not interrupted: it completes
 * and the deploy stops before its switch. Once the switch has begun, the deploy finishes as usual (hook, health
 * check, revert). A shutdown also refuses every later deploy. Thread-safe.
 */
final class StopGate {
    /** Phases whose work a stop interrupts. */
    static final Set<Phase> INTERRUPTIBLE = EnumSet.of(Phase.VERIFY, Phase.PLAN, Phase.FETCH);

    /**
     * Why the running deploy is to stop.
     *
     * @param reason {@link FailureReason#REASON_ABORTED} or {@link FailureReason#REASON_CANCELLED}
     * @param why who stopped it and why, the start of the deploy's error
     */
    record Stop(FailureReason reason, String why) {}

    /**
     * What {@link #cancel} found.
     *
     * @param state stopping, too late or not running
     * @param runningId the id of the deploy running when it was asked, null when none ran
     * @param phase the phase of the named deploy, null when it was not running
     */
    record CancelAnswer(CancelState state, String runningId, Phase phase) {}

    private final Object lock = new Object();
    private Stop shutdown;
    private boolean running;
    private String deployId;
    private Phase phase;
    private boolean committed;
    private Stop stop;
    private Thread interruptible;

    /**
     * The calling thread's deploy {@code deployId} starts; false when one runs already. A deploy entering while
     * the agent shuts down is stopped at once (as its first phase begins).
     */
    boolean enter(String deployId) {
        synchronized (lock) {
            if (running) {
                return false;
            }
            running = true;
            this.deployId = deployId;
            phase = null;
            committed = false;
            stop = shutdown;
            interruptible = Thread.currentThread();
            return true;
        }
    }

    /**
     * Phase {@code p} begins. Ends the deploy with the stop's {@link DeployFailure} when a stop was requested and
     * the switch has not begun (the failure names the phase the deploy was in, VERIFY before any); beginning
     * SWITCH is the point of no return.
     */
    void begin(Phase p) throws DeployFailure {
        synchronized (lock) {
            if (stop != null && !committed) {
                throw new DeployFailure(phase == null ? Phase.VERIFY : phase, stop.reason(), stop.why(), null);
            }
            phase = p;
            committed |= p == Phase.SWITCH;
            interruptible = INTERRUPTIBLE.contains(p) ? Thread.currentThread() : null;
        }
    }

    /** The stop requested for the running deploy before its switch, or null. */
    Stop stopped() {
        synchronized (lock) {
            return committed ? null : stop;
        }
    }

    /** The stop did its job: no more interrupts, and the calling thread's pending one is cleared (clean-up does I/O). */
    void quiet() {
        synchronized (lock) {
            interruptible = null;
            Thread.interrupted();
        }
    }

    /** The running deploy ended; its thread (a pooled one) keeps no interrupt. */
    void leave() {
        synchronized (lock) {
            running = false;
            deployId = null;
            phase = null;
            stop = null;
            interruptible = null;
            Thread.interrupted();
            lock.notifyAll();
        }
    }

    boolean busy() {
        synchronized (lock) {
            return running;
        }
    }

    /** Shutdown: the running deploy (and every later one) stops before its switch with {@code why}. */
    void shutdown(Stop why) {
        synchronized (lock) {
            shutdown = why;
            request(why);
        }
    }

    /**
     * Stops the running deploy when its id is {@code deployId} and it has not begun its switch (a stop already
     * requested stays the one that counts).
     */
    CancelAnswer cancel(String deployId, Stop why) {
        synchronized (lock) {
            if (!running || !deployId.equals(this.deployId)) {
                return new CancelAnswer(CancelState.CANCEL_NOT_RUNNING, running ? this.deployId : null, null);
            }
            Phase now = phase == null ? Phase.VERIFY : phase;
            if (committed) {
                return new CancelAnswer(CancelState.CANCEL_TOO_LATE, deployId, now);
            }
            request(why);
            return new CancelAnswer(CancelState.CANCEL_STOPPING, deployId, now);
        }
    }

    private void request(Stop why) {
        if (running && !committed) {
            stop = stop == null ? why : stop;
            if (interruptible != null) {
                interruptible.interrupt();
            }
        }
    }

    /** Waits until no deploy runs, at most {@code timeout}; true when none runs. */
    boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (running) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }
}

package dev.pinfleet.agent.deploy;

import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.CancelResponse;
import dev.pinfleet.proto.v1.CancelState;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Phase;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

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

    /** The most characters of a Cancel call's reason. */
    static final int MAX_CANCEL_REASON = 1024;
    private static final Logger LOG = Logger.getLogger(StopGate.class.getName());

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
     * A Cancel call of {@code caller}: stops the running deploy when its id is {@code deployId} and it has not begun
     * its switch (a stop already requested stays the one that counts); it then ends with reason CANCELLED and an
     * error naming the caller and {@code reason}. Answers what it found, at once.
     *
     * @throws IllegalArgumentException for an empty deploy id or a reason over {@value #MAX_CANCEL_REASON} characters
     */
    CancelResponse cancel(String node, String deployId, String caller, String reason) {
        if (deployId.isEmpty()) {
            throw new IllegalArgumentException("node " + node + ": cancel: deploy_id is required");
        }
        if (reason.length() > MAX_CANCEL_REASON) {
            throw new IllegalArgumentException("node " + node + ": cancel: reason has " + reason.length()
                    + " characters, more than " + MAX_CANCEL_REASON);
        }
        CancelResponse.Builder out = CancelResponse.newBuilder().setNode(node);
        String deploy = "node " + node + ": deploy '" + Names.printable(deployId) + "'";
        synchronized (lock) {
            if (!running || !deployId.equals(this.deployId)) {
                out.setState(CancelState.CANCEL_NOT_RUNNING).setRunningDeployId(running ? this.deployId : "")
                        .setMessage(deploy + " is not running" + (running ? " (deploy '" + this.deployId + "' is)" : ""));
            } else if (committed) {
                out.setState(CancelState.CANCEL_TOO_LATE).setRunningDeployId(deployId).setPhase(phase)
                        .setMessage(deploy + " has begun its switch (it is in " + phase
                                + "): too late to cancel, it finishes normally");
            } else {
                Phase now = phase == null ? Phase.VERIFY : phase;
                request(new Stop(FailureReason.REASON_CANCELLED, "cancelled by " + caller
                        + (reason.isBlank() ? "" : " (" + Names.printable(reason) + ")")));
                out.setState(CancelState.CANCEL_STOPPING).setRunningDeployId(deployId).setPhase(now)
                        .setMessage(deploy + " stops before its switch (it was in " + now + ")");
            }
        }
        LOG.info(out.getMessage() + "; asked by " + caller);
        return out.build();
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

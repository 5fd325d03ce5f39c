package dev.pinfleet.agent.deploy;

import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Phase;

/** Ends a node deploy: the phase it failed in, the typed reason and why in words; `current` stays as it was. */
final class DeployFailure extends Exception {
    private static final long serialVersionUID = 1L;
    private final Phase phase;
    private final FailureReason reason;

    DeployFailure(Phase phase, FailureReason reason, String message, Throwable cause) {
        super(message, cause);
        this.phase = phase;
        this.reason = reason;
    }

    Phase phase() {
        return phase;
    }

    FailureReason reason() {
        return reason;
    }
}

package dev.pinfleet.agent.deploy;

import dev.pinfleet.proto.v1.Phase;

/** Ends a node deploy: the phase it failed in and why; `current` stays as it was. */
final class DeployFailure extends Exception {
    private static final long serialVersionUID = 1L;
    private final Phase phase;

    DeployFailure(Phase phase, String message, Throwable cause) {
        super(message, cause);
        this.phase = phase;
    }

    Phase phase() {
        return phase;
    }
}

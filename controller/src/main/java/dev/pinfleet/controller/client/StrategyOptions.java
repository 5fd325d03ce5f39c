package dev.pinfleet.controller.client;

import dev.pinfleet.controller.rollout.Strategy;
import java.time.Duration;
import picocli.CommandLine.Option;

/** How a rollout proceeds, as {@code deploy} and {@code rollback} take it (see {@link Strategy}). */
public final class StrategyOptions {
    @Option(names = "--canary", defaultValue = "0", paramLabel = "N", description = "Deploy N nodes first, alone (default: ${DEFAULT-VALUE}).")
    int canary;

    @Option(names = "--batch", defaultValue = "100%", paramLabel = "N|P%", description = "Nodes per batch after the canary (default: ${DEFAULT-VALUE}).")
    String batch;

    @Option(names = "--max-failures", defaultValue = "0", paramLabel = "N|P%",
            description = "Failure budget of the whole fleet: stop starting nodes once more than this failed (default: ${DEFAULT-VALUE}).")
    String maxFailures;

    @Option(names = "--pause-after-canary", description = "Ask the operator before going on after the canary (see --yes).")
    boolean pauseAfterCanary;

    @Option(names = {"-y", "--yes"}, description = "Answer yes to the pause after the canary.")
    boolean yes;

    @Option(names = "--forks", defaultValue = "50", description = "Nodes deployed at once (default: ${DEFAULT-VALUE}).")
    int forks;

    @Option(names = "--node-timeout", defaultValue = "600", paramLabel = "SECONDS", description = "Deadline of one node (default: ${DEFAULT-VALUE}).")
    int nodeTimeout;

    @Option(names = "--stuck-timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "A node that sends no event for this long counts as stuck (default: ${DEFAULT-VALUE}).")
    int stuckTimeout;

    /** Validated here first (the message names the option); the controller checks again. */
    Strategy strategy() {
        return new Strategy(canary, batch, maxFailures, pauseAfterCanary && !yes, Duration.ofSeconds(nodeTimeout),
                Duration.ofSeconds(stuckTimeout), forks);
    }
}

package dev.pinfleet.agent.sim;

import dev.pinfleet.agent.deploy.StandIn;
import dev.pinfleet.agent.fetch.Sleeper;
import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.proto.v1.Manifest;
import java.time.Duration;
import java.util.Locale;

/**
 * A simulated node's fetch and install: waits {@code duration} (on the deploy's thread, through an injected
 * {@link Sleeper}), then fails on the nodes {@link #fails} picks, a fraction {@code failureRate} of the names. Which
 * nodes fail depends only on the node name and the seed, so a run can be checked against the list it should produce.
 */
public final class HollowInstall implements StandIn {
    private final Duration duration;
    private final double failureRate;
    private final long seed;
    private final Sleeper sleeper;

    /**
     * @param duration simulated fetch and install time per deploy (zero or more)
     * @param failureRate fraction of node names whose deploys fail, 0 to 1
     * @param seed varies which nodes fail
     */
    public HollowInstall(Duration duration, double failureRate, long seed, Sleeper sleeper) {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("the simulated install duration must not be negative, got " + duration);
        }
        if (!(failureRate >= 0 && failureRate <= 1)) {
            throw new IllegalArgumentException("the failure rate must be between 0 and 1, got " + failureRate);
        }
        this.duration = duration;
        this.failureRate = failureRate;
        this.seed = seed;
        this.sleeper = sleeper;
    }

    /** Whether deploys on {@code node} fail: a hash of the name and the seed, uniform in [0, 1), below the rate. */
    public boolean fails(String node) {
        long z = seed + node.hashCode() * 0x9E3779B97F4A7C15L; // SplitMix64's finalizer over name and seed
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53 < failureRate;
    }

    @Override
    public void install(String node, Manifest manifest) throws InstallException, InterruptedException {
        sleeper.sleep(duration);
        if (fails(node)) {
            throw InstallException.failed(String.format(Locale.ROOT, "simulated install failure of app %s"
                    + " serial %d (fleet simulator, failure rate %s)", manifest.getApp(), manifest.getSerial(),
                    failureRate));
        }
    }
}

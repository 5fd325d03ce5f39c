package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.proto.v1.Manifest;

/**
 * The fleet simulator's seam (a hollow node, as Kubernetes' kubemark has a hollow kubelet): stands in for the
 * downloads of FETCH and the build of INSTALL, the only work of a deploy a simulated node does not do. Everything
 * else runs as on a real node: the gRPC service, verification of the signed manifest, the plan, the release directory
 * with its signed manifest, the app's state, the switch of `current`, the events and the report. A deploy with a
 * stand-in places an empty release directory.
 */
@FunctionalInterface
public interface StandIn {
    /**
     * Spends node {@code node}'s simulated fetch and install time for {@code manifest}, on the deploy's thread; must
     * return early with {@link InterruptedException} when that thread is interrupted (a cancel or a shutdown).
     *
     * @throws InstallException a simulated failure: the deploy ends FAILED in INSTALL with `current` unchanged
     */
    void install(String node, Manifest manifest) throws InstallException, InterruptedException;
}

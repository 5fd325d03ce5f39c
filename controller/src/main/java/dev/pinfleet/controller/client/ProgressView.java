package dev.pinfleet.controller.client;

import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import java.util.List;

/** A display of a rollout as its events arrive from the controller (one thread calls it). */
interface ProgressView {
    default void started(int nodes, long bytesPerNode) { }

    default void waveStarted(int wave, int waves, List<String> nodes) { }

    default void nodeStarted(String node, int wave) { }

    default void event(String node, DeployEvent event) { }

    default void nodeFinished(NodeReport report) { }

    default void stopped(String why) { }

    /** Anything else worth a line: a state change, a remark of the controller. */
    default void note(String text) { }

    default void finished(FleetReport report) { }
}

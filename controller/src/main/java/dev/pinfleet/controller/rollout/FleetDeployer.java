package dev.pinfleet.controller.rollout;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.SignedManifest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Pushes one signed manifest to many agents in parallel and gathers every node's report. */
public final class FleetDeployer {
    /** Sees every event as it arrives (called from worker threads). */
    public interface Listener {
        void event(Node node, DeployEvent event);

        void finished(NodeReport report);
    }

    private final int parallelism;
    private final Duration nodeDeadline;
    private final Clock clock;

    public FleetDeployer(int parallelism, Duration nodeDeadline, Clock clock) {
        this.parallelism = parallelism;
        this.nodeDeadline = nodeDeadline;
        this.clock = clock;
    }

    public FleetReport deploy(String deployId, String operator, SignedManifest manifest, String app, long serial,
            String digest, List<Node> nodes, Listener listener) throws InterruptedException {
        FleetReport.Builder report = FleetReport.newBuilder()
                .setDeployId(deployId).setApp(app).setSerial(serial).setManifestDigest(digest).setOperator(operator)
                .setStarted(Timestamps.fromMillis(clock.millis()));
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallelism, nodes.size())));
        try {
            List<Future<NodeReport>> futures = new ArrayList<>();
            for (Node n : nodes) {
                futures.add(pool.submit(() -> {
                    NodeReport r = deployOne(deployId, manifest, n, listener);
                    listener.finished(r);
                    return r;
                }));
            }
            for (Future<NodeReport> f : futures) {
                try {
                    report.addNodes(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException("node deploy crashed", e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        return report.setFinished(Timestamps.fromMillis(clock.millis())).build();
    }

    NodeReport deployOne(String deployId, SignedManifest manifest, Node node, Listener listener) {
        long start = clock.millis();
        NodeReport.Builder nr = NodeReport.newBuilder().setNode(node.name()).setAddress(node.address());
        ManagedChannel channel = AgentClient.open(node);
        try {
            Iterator<DeployEvent> events = AgentServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(nodeDeadline.toMillis(), TimeUnit.MILLISECONDS)
                    .deploy(DeployRequest.newBuilder().setManifest(manifest).setDeployId(deployId).build());
            DeployReport last = null;
            while (events.hasNext()) {
                DeployEvent e = events.next();
                listener.event(node, e);
                if (e.hasReport()) {
                    last = e.getReport();
                }
            }
            if (last == null) {
                nr.setOutcome(NodeOutcome.NODE_FAILED)
                        .setError(node.name() + " (" + node.address() + "): agent closed the stream without a report");
            } else {
                nr.setReport(last);
                if (last.getOutcome() == Outcome.OK) {
                    nr.setOutcome(NodeOutcome.NODE_OK);
                } else if (last.getOutcome() == Outcome.UNCHANGED) {
                    nr.setOutcome(NodeOutcome.NODE_UNCHANGED);
                } else {
                    nr.setOutcome(NodeOutcome.NODE_FAILED)
                            .setError(node.name() + ": " + last.getFailedPhase().name().toLowerCase() + ": " + last.getError());
                }
            }
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            String why = e.getStatus().getDescription() != null ? e.getStatus().getDescription()
                    : e.getCause() != null ? e.getCause().getMessage() : code.name();
            if (code == Status.Code.UNAVAILABLE) {
                nr.setOutcome(NodeOutcome.NODE_UNREACHABLE)
                        .setError(node.name() + " (" + node.address() + "): unreachable: " + why);
            } else if (code == Status.Code.DEADLINE_EXCEEDED) {
                nr.setOutcome(NodeOutcome.NODE_FAILED)
                        .setError(node.name() + " (" + node.address() + "): no report within the node deadline of "
                                + nodeDeadline.toSeconds() + " s");
            } else {
                nr.setOutcome(NodeOutcome.NODE_FAILED)
                        .setError(node.name() + " (" + node.address() + "): " + code.name().toLowerCase() + ": " + why);
            }
        } finally {
            AgentClient.close(channel);
        }
        return nr.setMillis(clock.millis() - start).build();
    }
}

package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.CancelRequest;
import dev.pinfleet.proto.v1.CancelResponse;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.SignedManifest;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

/**
 * One node's deploy call: streams the agent's events to a listener, ends in a {@link NodeReport}. The controller
 * gives up on a node after its deadline, or as stuck when {@link #checkStuck} finds no event for the stuck
 * timeout (the agent sends progress events while it makes progress). {@link #cancel} asks the agent (its Cancel RPC)
 * to stop the deploy before its switch; an agent already running another deploy makes the node fail with reason
 * {@code REASON_BUSY}.
 */
final class NodeCall implements ClientResponseObserver<DeployRequest, DeployEvent> {
    private final Node node;
    private final int wave;
    private final Clock clock;
    private final Duration deadline;
    private final Duration stuckTimeout;
    private final BiConsumer<Node, DeployEvent> onEvent;
    private final BiConsumer<Node, String> onCancelAnswer;
    private final ManagedChannel channel;
    private final CompletableFuture<NodeReport> done = new CompletableFuture<>();
    private final long started;
    private volatile long lastEvent;
    private volatile String lastSeen = "connecting";
    private volatile boolean stuck;
    private volatile boolean reached;
    private volatile ClientCallStreamObserver<DeployRequest> call;
    private volatile String deployId;
    private volatile String cancelReason;
    private final AtomicBoolean cancelSent = new AtomicBoolean();
    private DeployReport report;

    NodeCall(Node node, int wave, AgentClient client, Clock clock, Duration deadline, Duration stuckTimeout,
            BiConsumer<Node, DeployEvent> onEvent, BiConsumer<Node, String> onCancelAnswer) {
        this.node = node;
        this.wave = wave;
        this.clock = clock;
        this.deadline = deadline;
        this.stuckTimeout = stuckTimeout;
        this.onEvent = onEvent;
        this.onCancelAnswer = onCancelAnswer;
        this.started = clock.millis();
        this.lastEvent = started;
        this.channel = client.open(node);
    }

    CompletableFuture<NodeReport> start(String deployId, SignedManifest manifest) {
        this.deployId = deployId;
        AgentServiceGrpc.newStub(channel).withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .deploy(DeployRequest.newBuilder().setManifest(manifest).setDeployId(deployId).build(), this);
        return done;
    }

    Node node() {
        return node;
    }

    /** Cancels the call when no event came within the stuck timeout; true when it did. */
    boolean checkStuck() {
        if (done.isDone() || stuck || clock.millis() - lastEvent <= stuckTimeout.toMillis()) {
            return false;
        }
        stuck = true;
        ClientCallStreamObserver<DeployRequest> c = call;
        if (c != null) {
            c.cancel("no event for " + stuckTimeout.toSeconds() + " s: stuck", null);
        }
        return true;
    }

    /**
     * Asks the agent to stop this deploy before its switch ({@code reason} goes into the deploy's error). Sent once the
     * agent has begun the deploy (its first event), so that the agent knows the deploy id; its answer goes to the
     * listener in words. A deploy that already switched finishes normally.
     */
    void cancel(String reason) {
        cancelReason = reason;
        if (reached) {
            sendCancel();
        }
    }

    private void sendCancel() {
        String why = cancelReason;
        if (why == null || done.isDone() || !cancelSent.compareAndSet(false, true)) {
            return;
        }
        CancelRequest req = CancelRequest.newBuilder().setDeployId(deployId).setReason("rollout " + deployId + ": " + why)
                .build();
        // Outside the caller's gRPC context: an operator's Cancel call that returns must not cancel this call too.
        Context.ROOT.run(() -> AgentServiceGrpc.newStub(channel)
                .withDeadlineAfter(AgentClient.QUERY_DEADLINE_SECONDS, TimeUnit.SECONDS).cancel(req, new CancelAnswer()));
    }

    /** The agent's answer to a cancel, to the listener in words. */
    private final class CancelAnswer implements StreamObserver<CancelResponse> {
        @Override
        public void onNext(CancelResponse r) {
            onCancelAnswer.accept(node, r.getMessage());
        }

        @Override
        public void onError(Throwable t) {
            if (!done.isDone()) { // a call cut short by the deploy's own end needs no word
                onCancelAnswer.accept(node, node.name() + ": the cancel call failed: " + Status.fromThrowable(t).getCode()
                        + " " + rootMessage(t));
            }
        }

        @Override
        public void onCompleted() {
        }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<DeployRequest> requestStream) {
        this.call = requestStream;
    }

    @Override
    public void onNext(DeployEvent e) {
        lastEvent = clock.millis();
        reached = true;
        if (e.hasPhaseStarted()) {
            lastSeen = "phase " + e.getPhaseStarted().name().toLowerCase(Locale.ROOT);
        } else if (e.hasProgress()) {
            lastSeen = "phase " + e.getProgress().getPhase().name().toLowerCase(Locale.ROOT) + ", "
                    + e.getProgress().getArtifactsDone() + " of " + e.getProgress().getArtifactsTotal() + " artifacts";
        }
        if (e.hasReport()) {
            report = e.getReport();
        }
        onEvent.accept(node, e);
        if (cancelReason != null) {
            sendCancel();
        }
    }

    @Override
    public void onError(Throwable t) {
        NodeReport.Builder nr = base();
        String where = node.name() + " (" + node.address() + ")";
        if (stuck) {
            nr.setOutcome(NodeOutcome.NODE_STUCK).setError(where + ": stuck: no event from the agent for "
                    + stuckTimeout.toSeconds() + " s (last seen: " + lastSeen + "); gave up on the node");
        } else {
            Status s = Status.fromThrowable(t);
            String why = s.getDescription() != null ? s.getDescription()
                    : s.getCause() != null ? rootMessage(s.getCause()) : s.getCode().name();
            if (s.getDescription() != null && s.getCause() != null) {
                why += ": " + rootMessage(s.getCause());
            }
            switch (s.getCode()) {
                case UNAVAILABLE -> {
                    if (reached) {
                        // It streamed events, then the connection went (agent killed or restarted, network cut):
                        // a failure of this deploy, and what the agent did meanwhile is not known here.
                        nr.setOutcome(NodeOutcome.NODE_FAILED).setCause(Outcomes.DROPPED).setError(where + ": connection dropped mid-deploy"
                                + " (last seen: " + lastSeen + "): " + why + "; the agent may have restarted or the"
                                + " network failed, so the node's state is unknown: see `pinfleet status`, then deploy"
                                + " again with --retry-failed");
                    } else {
                        nr.setOutcome(NodeOutcome.NODE_UNREACHABLE).setError(where + ": unreachable: "
                                + Unreachable.why(node, s));
                    }
                }
                case RESOURCE_EXHAUSTED -> nr.setOutcome(NodeOutcome.NODE_FAILED).setReport(DeployReport.newBuilder()
                        .setOutcome(Outcome.FAILED).setReason(FailureReason.REASON_BUSY).setError(why))
                        .setError(where + ": busy: " + why);
                case DEADLINE_EXCEEDED -> nr.setOutcome(NodeOutcome.NODE_FAILED).setCause(Outcomes.DEADLINE).setError(where
                        + ": no report within the node deadline of " + deadline.toSeconds() + " s (last seen: " + lastSeen + ")");
                default -> nr.setOutcome(NodeOutcome.NODE_FAILED).setCause(Outcomes.GRPC).setError(where + ": "
                        + s.getCode().name().toLowerCase(Locale.ROOT) + ": " + why);
            }
        }
        finish(nr);
    }

    @Override
    public void onCompleted() {
        NodeReport.Builder nr = base();
        if (report == null) {
            nr.setOutcome(NodeOutcome.NODE_FAILED).setCause(Outcomes.NO_REPORT).setError(node.name() + " (" + node.address()
                    + "): agent closed the stream without a report");
        } else {
            nr.setReport(report);
            switch (report.getOutcome()) {
                case OK -> nr.setOutcome(NodeOutcome.NODE_OK);
                case UNCHANGED -> nr.setOutcome(NodeOutcome.NODE_UNCHANGED);
                case FAILED -> nr.setOutcome(report.getReason() == FailureReason.REASON_CANCELLED
                        ? NodeOutcome.NODE_CANCELLED : NodeOutcome.NODE_FAILED).setError(node.name() + ": "
                        + report.getFailedPhase().name().toLowerCase(Locale.ROOT) + ": " + report.getError());
                case REVERTED -> nr.setOutcome(NodeOutcome.NODE_REVERTED).setError(node.name() + ": reverted in "
                        + report.getFailedPhase().name().toLowerCase(Locale.ROOT) + ": " + report.getError());
                default -> nr.setOutcome(NodeOutcome.NODE_FAILED).setError(node.name() + ": "
                        + report.getFailedPhase().name().toLowerCase(Locale.ROOT) + ": " + report.getError());
            }
        }
        finish(nr);
    }

    private NodeReport.Builder base() {
        return NodeReport.newBuilder().setNode(node.name()).setAddress(node.address()).setWave(wave)
                .setStartedUnixMs(started);
    }

    private void finish(NodeReport.Builder nr) {
        channel.shutdownNow(); // not awaited: this runs on the channel's own callback thread
        done.complete(nr.setMillis(clock.millis() - started).build());
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        // the message alone: an operator reads it, and a Java class name tells them nothing
        return c.getMessage() == null || c.getMessage().isBlank() ? "connection closed" : c.getMessage().lines().findFirst().orElse("");
    }

}

package dev.pinfleet.agent.testing;

import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Phase;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A Deploy call left running while the test acts on the agent: {@code reached} completes when the deploy begins a
 * given phase, {@code report} with its report (exceptionally when the call fails or ends without one).
 */
public record InFlightDeploy(CompletableFuture<Void> reached, CompletableFuture<DeployReport> report) {

    /** Calls Deploy on {@code channel} (deadline 120 s); {@code reached} completes as {@code phase} starts. */
    public static InFlightDeploy start(ManagedChannel channel, DeployRequest request, Phase phase) {
        InFlightDeploy f = new InFlightDeploy(new CompletableFuture<>(), new CompletableFuture<>());
        AgentServiceGrpc.newStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS).deploy(request,
                new StreamObserver<>() {
                    @Override
                    public void onNext(DeployEvent e) {
                        if (e.hasPhaseStarted() && e.getPhaseStarted() == phase) {
                            f.reached().complete(null);
                        }
                        if (e.hasReport()) {
                            f.report().complete(e.getReport());
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        f.reached().completeExceptionally(t);
                        f.report().completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        f.report().completeExceptionally(new AssertionError("stream ended without a report"));
                    }
                });
        return f;
    }
}

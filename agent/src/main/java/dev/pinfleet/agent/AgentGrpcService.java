package dev.pinfleet.agent;

import dev.pinfleet.agent.deploy.DeployEngine;
import dev.pinfleet.agent.tls.RoleInterceptor;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.CancelRequest;
import dev.pinfleet.proto.v1.CancelResponse;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.PlanRequest;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.ReleaseManifestRequest;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;

/** Thin gRPC adapter: unpack the request, call the engine, map the outcome to the wire. */
public final class AgentGrpcService extends AgentServiceGrpc.AgentServiceImplBase {
    private final DeployEngine engine;
    private final String node;
    private final String version;

    public AgentGrpcService(DeployEngine engine, String node, String version) {
        this.engine = engine;
        this.node = node;
        this.version = version;
    }

    @Override
    public void deploy(DeployRequest request, StreamObserver<DeployEvent> responses) {
        ServerCallStreamObserver<DeployEvent> out = (ServerCallStreamObserver<DeployEvent>) responses;
        // the trash the deploy's clean-up filled is emptied once its report has been sent, never before
        AtomicBoolean deployed = new AtomicBoolean();
        out.setOnCloseHandler(() -> {
            if (deployed.get()) {
                engine.emptyTrash();
            }
        });
        try {
            engine.deploy(request, e -> {
                synchronized (out) {
                    if (!out.isCancelled()) {
                        out.onNext(e);
                    }
                }
            });
            deployed.set(true);
            synchronized (out) {
                if (out.isCancelled()) {
                    engine.emptyTrash(); // nobody to send the report to
                } else {
                    out.onCompleted();
                }
            }
        } catch (DeployEngine.BusyException e) {
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> responses) {
        try {
            responses.onNext(StatusResponse.newBuilder().setNode(node).setAgentVersion(version)
                    .setBusy(engine.busy()).addAllApps(engine.status(request.getApp(), request.getProbeHealth()))
                    .build());
            responses.onCompleted();
        } catch (IOException e) {
            responses.onError(Status.INTERNAL.withDescription("node " + node + ": " + e.getMessage()).asRuntimeException());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            responses.onError(Status.CANCELLED.withDescription("node " + node + ": agent is shutting down")
                    .asRuntimeException());
        }
    }

    @Override
    public void plan(PlanRequest request, StreamObserver<PlanResponse> responses) {
        try {
            responses.onNext(engine.plan(request.getManifest()));
            responses.onCompleted();
        } catch (IOException e) {
            responses.onError(Status.INTERNAL.withDescription("node " + node + ": " + e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void cancel(CancelRequest request, StreamObserver<CancelResponse> responses) {
        String caller = RoleInterceptor.CALLER.get();
        try {
            responses.onNext(engine.cancel(request.getDeployId(), caller == null ? "an unnamed caller" : caller,
                    request.getReason()));
            responses.onCompleted();
        } catch (IllegalArgumentException e) {
            responses.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void releaseManifest(ReleaseManifestRequest request, StreamObserver<ReleaseManifestResponse> responses) {
        try {
            responses.onNext(engine.releaseManifest(request.getApp(), request.getRelease()));
            responses.onCompleted();
        } catch (DeployEngine.NotFoundException e) {
            responses.onError(Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException());
        } catch (IOException e) {
            responses.onError(Status.INTERNAL.withDescription("node " + node + ": " + e.getMessage()).asRuntimeException());
        }
    }
}

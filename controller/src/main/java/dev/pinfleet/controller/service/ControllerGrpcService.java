package dev.pinfleet.controller.service;

import dev.pinfleet.controller.store.StoreException;
import dev.pinfleet.proto.v1.AuditRequest;
import dev.pinfleet.proto.v1.AuditResponse;
import dev.pinfleet.proto.v1.CancelRolloutRequest;
import dev.pinfleet.proto.v1.ControllerServiceGrpc;
import dev.pinfleet.proto.v1.FleetPlanRequest;
import dev.pinfleet.proto.v1.FleetPlanResponse;
import dev.pinfleet.proto.v1.FleetStatusRequest;
import dev.pinfleet.proto.v1.FleetStatusResponse;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.HistoryResponse;
import dev.pinfleet.proto.v1.NextSerialRequest;
import dev.pinfleet.proto.v1.NextSerialResponse;
import dev.pinfleet.proto.v1.NodeReleaseManifestRequest;
import dev.pinfleet.proto.v1.ProceedRequest;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.ResumeRequest;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.ShowResponse;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.proto.v1.SubmitResponse;
import dev.pinfleet.proto.v1.WatchRequest;
import com.google.protobuf.Any;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.logging.Logger;

/** The gRPC edge of the {@link Controller}: unpacks a call, calls one of its methods, maps the outcome to a status. */
final class ControllerGrpcService extends ControllerServiceGrpc.ControllerServiceImplBase {
    private static final Logger LOG = Logger.getLogger(ControllerGrpcService.class.getName());

    private final Controller controller;

    ControllerGrpcService(Controller controller) {
        this.controller = controller;
    }

    /** One unary call's work. */
    @FunctionalInterface
    private interface Work<T> {
        T run(String operator) throws InterruptedException;
    }

    private static <T> void answer(StreamObserver<T> out, Work<T> work) {
        T value;
        try {
            value = work.run(OperatorInterceptor.OPERATOR.get());
        } catch (ControllerException e) {
            out.onError(refusal(e));
            return;
        } catch (StoreException e) {
            out.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.onError(Status.UNAVAILABLE.withDescription("the controller is stopping").asRuntimeException());
            return;
        } catch (RuntimeException e) {
            LOG.warning("controller: " + e);
            out.onError(Status.INTERNAL.withDescription(String.valueOf(e.getMessage())).withCause(e).asRuntimeException());
            return;
        }
        out.onNext(value);
        out.onCompleted();
    }

    /** A refusal as a status; a standby's carries its typed {@code NotActive} detail. */
    private static StatusRuntimeException refusal(ControllerException e) {
        if (e.standby() == null) {
            return Status.fromCode(e.code()).withDescription(e.getMessage()).asRuntimeException();
        }
        return StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder().setCode(e.code().value())
                .setMessage(e.getMessage()).addDetails(Any.pack(e.standby())).build());
    }

    @Override
    public void submit(SubmitRequest req, StreamObserver<SubmitResponse> out) {
        answer(out, op -> controller.submit(req, op));
    }

    @Override
    public void watch(WatchRequest req, StreamObserver<RolloutEvent> out) {
        try {
            controller.watch(req.getRolloutId(), req.getAfterSeq(), (ServerCallStreamObserver<RolloutEvent>) out);
        } catch (ControllerException e) {
            out.onError(refusal(e));
        } catch (StoreException e) {
            out.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
        }
    }

    @Override
    public void cancel(CancelRolloutRequest req, StreamObserver<RolloutSummary> out) {
        answer(out, op -> controller.cancel(req.getRolloutId(), op));
    }

    @Override
    public void resume(ResumeRequest req, StreamObserver<RolloutSummary> out) {
        answer(out, op -> controller.resume(req.getRolloutId(), op));
    }

    @Override
    public void proceed(ProceedRequest req, StreamObserver<RolloutSummary> out) {
        answer(out, op -> controller.proceed(req.getRolloutId(), req.getProceed(), op));
    }

    @Override
    public void show(ShowRequest req, StreamObserver<ShowResponse> out) {
        answer(out, op -> RecordViews.show(controller.records(), req.getRolloutId(), req.getSummaryOnly()));
    }

    @Override
    public void history(HistoryRequest req, StreamObserver<HistoryResponse> out) {
        answer(out, op -> RecordViews.history(controller.records(), req));
    }

    @Override
    public void audit(AuditRequest req, StreamObserver<AuditResponse> out) {
        answer(out, op -> RecordViews.audit(controller.records(), req));
    }

    @Override
    public void plan(FleetPlanRequest req, StreamObserver<FleetPlanResponse> out) {
        answer(out, op -> controller.fleet().plan(req));
    }

    @Override
    public void status(FleetStatusRequest req, StreamObserver<FleetStatusResponse> out) {
        answer(out, op -> controller.fleet().status(req));
    }

    @Override
    public void nextSerial(NextSerialRequest req, StreamObserver<NextSerialResponse> out) {
        answer(out, op -> controller.nextSerial(req.getApp(), op));
    }

    @Override
    public void releaseManifest(NodeReleaseManifestRequest req, StreamObserver<ReleaseManifestResponse> out) {
        answer(out, op -> controller.fleet().releaseManifest(req));
    }
}

package dev.pinfleet.controller.service;

import dev.pinfleet.proto.v1.NotActive;
import io.grpc.Status;

/** A refusal of the controller's API, with the gRPC status it is answered with and a message naming what and why. */
public final class ControllerException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Status.Code code;
    private final transient NotActive standby;

    public ControllerException(Status.Code code, String message) {
        this(code, message, null);
    }

    private ControllerException(Status.Code code, String message, NotActive standby) {
        super(message);
        this.code = code;
        this.standby = standby;
    }

    /** The typed detail of a standby's refusal, or null. */
    NotActive standby() {
        return standby;
    }

    /** A write refused by the standby controller, naming the active one (see {@code NotActive} in controller.proto). */
    static ControllerException standby(String message, String activeAddress, String active, String standbyAddress,
            long leaseLeftMs) {
        return new ControllerException(Status.Code.FAILED_PRECONDITION, message, NotActive.newBuilder()
                .setActiveAddress(activeAddress).setActive(active).setStandbyAddress(standbyAddress)
                .setLeaseLeftMs(leaseLeftMs).build());
    }

    public Status.Code code() {
        return code;
    }

    static ControllerException invalid(String message) {
        return new ControllerException(Status.Code.INVALID_ARGUMENT, message);
    }

    static ControllerException notFound(long id) {
        return new ControllerException(Status.Code.NOT_FOUND, "no rollout " + id + " in the records");
    }

    static ControllerException precondition(String message) {
        return new ControllerException(Status.Code.FAILED_PRECONDITION, message);
    }
}

package dev.pinfleet.controller.service;

import io.grpc.Status;

/** A refusal of the controller's API, with the gRPC status it is answered with and a message naming what and why. */
public final class ControllerException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient Status.Code code;

    public ControllerException(Status.Code code, String message) {
        super(message);
        this.code = code;
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

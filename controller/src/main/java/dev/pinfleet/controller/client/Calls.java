package dev.pinfleet.controller.client;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.function.Supplier;

/** Calls to the controller from commands: a refusal becomes the operator's error message, naming what was refused. */
final class Calls {
    private Calls() {}

    /** Runs {@code call}; a refusal is a {@link CliException} "WHAT: why". */
    static <T> T call(String what, Supplier<T> call) {
        try {
            return call.get();
        } catch (StatusRuntimeException e) {
            throw new CliException(what + ": " + why(e));
        }
    }

    static String why(StatusRuntimeException e) {
        Status s = e.getStatus();
        String d = s.getDescription() != null ? s.getDescription() : s.getCode().name();
        if (s.getCause() != null && s.getDescription() == null) {
            d += " (" + s.getCause().getMessage() + ")";
        }
        return switch (s.getCode()) {
            case UNAVAILABLE -> "unavailable: " + d;
            case PERMISSION_DENIED -> "permission denied: " + d;
            case UNAUTHENTICATED -> "not authenticated: " + d;
            case DEADLINE_EXCEEDED -> "no answer in time: " + d;
            default -> d;
        };
    }

    /** Tells the operator about rollouts whose controller stopped (other than {@code except}): resume or cancel them. */
    static void noticeInterrupted(Connection conn, long except, PrintWriter err) {
        for (RolloutSummary r : call("reading the records", () -> conn.blocking().history(HistoryRequest.newBuilder()
                .addStates(RolloutState.ROLLOUT_INTERRUPTED).setLimit(20).build())).getRolloutsList()) {
            if (r.getId() == except) {
                continue;
            }
            err.println("pinfleet: rollout " + r.getId() + " of " + r.getApp() + " serial " + r.getSerial() + " (by "
                    + r.getOperator() + (r.hasStarted() ? ", started " + Timestamps.toString(r.getStarted()) : "")
                    + ") was interrupted: " + Outcomes.progress(r) + "; `pinfleet resume " + r.getId()
                    + "` continues it, `pinfleet cancel " + r.getId() + "` ends it");
        }
        err.flush();
    }
}

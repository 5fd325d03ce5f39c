package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.StateChange;
import dev.pinfleet.proto.v1.WatchRequest;
import dev.pinfleet.controller.Json;
import dev.pinfleet.proto.v1.RolloutSummary;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Iterator;
import java.util.Locale;

/**
 * Follows a rollout's event stream from the controller onto a {@link ProgressView} until its final report. Ctrl-C
 * or a dropped connection detaches: a served controller goes on with the rollout ({@code pinfleet watch ID}
 * reattaches); the embedded one, which lives in this process, records it interrupted ({@code pinfleet resume ID}).
 */
final class Follow {
    /** Exit code of a command that detached from a rollout that goes on. */
    static final int DETACHED = 3;
    /** How many times a broken event stream is followed on the next controller address before detaching. */
    static final int REATTACH = 10;

    /** The operator's answer at the pause after the canary. */
    @FunctionalInterface
    interface Pause {
        boolean proceed(StateChange paused);
    }

    /** How following ended: the final report, or null when detached (with why). */
    record Result(FleetReport report, String detached) {}

    private Follow() {}

    /**
     * Follows rollout {@code id} (recorded events after {@code afterSeq}, then live) on the display {@code views}
     * chooses, asking on the terminal at the pause after the canary; then prints the report table (text displays)
     * and writes {@code reportFile} (when given). The exit code: 0 when the rollout succeeded, 1 when not,
     * {@link #DETACHED} when it goes on without us.
     */
    static int andReport(Connection conn, long id, long afterSeq, int nodes, long bytesPerNode, ViewOptions views,
            Path reportFile, Terminal terminal, CliContext ctx, PrintWriter out, PrintWriter err, Clock clock) {
        ProgressView view = views.view(terminal, out, clock, ctx.var("NO_COLOR") == null);
        view.started(nodes, bytesPerNode);
        Result r = follow(conn, id, afterSeq, view, s -> ask(terminal, out, s), ctx, err);
        if (r.report() == null) {
            err.println("pinfleet: " + r.detached() + "; rollout " + id + (conn.isEmbedded()
                    ? " is interrupted: `pinfleet resume " + id + "` continues it"
                    : " goes on there: `pinfleet watch " + id + "` reattaches"));
            err.flush();
            return DETACHED;
        }
        if (reportFile != null) {
            Json.write(reportFile, r.report());
        }
        RolloutSummary s = conn.blocking().show(ShowRequest.newBuilder().setRolloutId(id).setSummaryOnly(true).build())
                .getRollout();
        String stale = staleSerialHint(r.report(), id);
        if (views.text(terminal)) {
            out.println();
            ReportTable.print(r.report(), out);
            out.println("rollout " + id + ": " + Outcomes.key(s.getOutcome()) + " in " + s.getDurationMs() + " ms"
                    + (reportFile == null ? "" : "; report: " + reportFile) + "; `pinfleet show " + id + "` shows its record");
            if (stale != null) {
                out.println(stale);
            }
            out.flush();
        } else if (stale != null) {
            err.println("pinfleet: " + stale);
            err.flush();
        }
        return s.getOutcome() == RolloutState.ROLLOUT_SUCCEEDED ? 0 : 1;
    }

    /**
     * What fixes a rollout whose nodes refused its serial as stale (typed reason {@code verify/serial}: not greater
     * than the serial they last applied, e.g. after a rollback, or below a serial frozen on a fast clock); null when
     * no node did.
     */
    static String staleSerialHint(FleetReport report, long id) {
        long stale = report.getNodesList().stream()
                .filter(n -> n.getReport().getReason() == FailureReason.REASON_VERIFY_SERIAL).count();
        if (stale == 0) {
            return null;
        }
        return stale + " node(s) refused serial " + report.getSerial() + " of " + report.getApp() + " as stale ("
                + Outcomes.reason(FailureReason.REASON_VERIFY_SERIAL) + ": not greater than the serial they last applied);"
                + " `pinfleet redeploy " + id + " --key KEY` deploys this content again under the next serial, and"
                + " `pinfleet freeze` with a controller configured (--controller or PINFLEET_CONTROLLER) gives a new"
                + " manifest the next serial";
    }

    /** The pause after the canary, on the terminal; no answer (end of input) is no. */
    static boolean ask(Terminal terminal, PrintWriter out, StateChange s) {
        synchronized (out) {
            out.printf("%ncanary done: %d of %d ok. Continue with the other %d node(s)? [y/N] ", s.getCanaryOk(),
                    s.getCanaryTotal(), s.getNodesLeft());
            out.flush();
        }
        String answer = terminal.readLine();
        boolean go = answer != null && answer.strip().toLowerCase(Locale.ROOT).matches("y|yes");
        if (!go) {
            out.println(answer == null ? "(no answer: end of input)" : "");
            out.flush();
        }
        return go;
    }

    static Result follow(Connection conn, long id, long afterSeq, ProgressView view, Pause pause, CliContext ctx,
            PrintWriter err) {
        try (CliContext.Handle stop = ctx.whenStopped(() -> detach(conn, id, err))) {
            long after = afterSeq;
            for (int reattached = 0; ; reattached++) {
                try {
                    Iterator<RolloutEvent> events = dev.pinfleet.proto.v1.ControllerServiceGrpc
                            .newBlockingStub(conn.channel()).watch(WatchRequest.newBuilder().setRolloutId(id)
                                    .setAfterSeq(after).build());
                    while (events.hasNext()) {
                        RolloutEvent e = events.next();
                        after = Math.max(after, e.getSeq());
                        if (e.hasFinished()) {
                            view.finished(e.getFinished());
                            return new Result(e.getFinished(), null);
                        }
                        show(conn, id, e, view, pause);
                    }
                    return new Result(null, "the controller ended the stream early");
                } catch (StatusRuntimeException e) {
                    String why = e.getStatus().getDescription() != null ? e.getStatus().getDescription()
                            : e.getStatus().getCode().name();
                    String lost = "lost the connection to the " + conn.where() + " (" + why + ")";
                    // Several controllers given: the other one serves the record (and takes the rollout over).
                    if (e.getStatus().getCode() == Status.Code.UNAVAILABLE && reattached < REATTACH && conn.failover()) {
                        view.note(lost + "; following rollout " + id + " on the " + conn.where());
                        continue;
                    }
                    return new Result(null, lost);
                }
            }
        }
    }

    private static void show(Connection conn, long id, RolloutEvent e, ProgressView view, Pause pause) {
        switch (e.getEventCase()) {
            case STATE -> state(conn, id, e.getState(), view, pause);
            case WAVE -> view.waveStarted(e.getWave().getWave(), e.getWave().getWaves(), e.getWave().getNodesList());
            case NODE_STARTED -> view.nodeStarted(e.getNodeStarted().getNode(), e.getNodeStarted().getWave());
            case NODE -> view.event(e.getNode().getNode(), e.getNode().getEvent());
            case NODE_FINISHED -> view.nodeFinished(e.getNodeFinished());
            case STOPPED -> view.stopped(e.getStopped());
            case NOTE -> view.note(e.getNote());
            default -> { }
        }
    }

    private static void state(Connection conn, long id, StateChange s, ProgressView view, Pause pause) {
        switch (s.getTo()) {
            case ROLLOUT_PAUSED -> {
                RolloutState now = conn.blocking().show(ShowRequest.newBuilder().setRolloutId(id).setSummaryOnly(true)
                        .build()).getRollout().getOutcome();
                if (now == RolloutState.ROLLOUT_PAUSED) { // not a pause answered long ago (a replay)
                    boolean go = pause.proceed(s);
                    conn.blocking().proceed(dev.pinfleet.proto.v1.ProceedRequest.newBuilder().setRolloutId(id)
                            .setProceed(go).build());
                }
            }
            case ROLLOUT_QUEUED, ROLLOUT_CANCELLING, ROLLOUT_INTERRUPTED -> view.note("rollout " + id + ": "
                    + Outcomes.key(s.getTo()) + " (" + s.getReason() + (s.getBy().isEmpty() ? "" : ", by " + s.getBy()) + ")");
            case ROLLOUT_RUNNING -> {
                if (!s.getReason().equals("submitted")) {
                    view.note("rollout " + id + ": running (" + s.getReason() + (s.getBy().isEmpty() ? "" : ", by "
                            + s.getBy()) + ")");
                }
            }
            default -> { }
        }
    }

    private static void detach(Connection conn, long id, PrintWriter err) {
        if (conn.isEmbedded()) {
            conn.stop();
            err.println("\npinfleet: stopped: rollout " + id + " is interrupted (the deploys in flight finish on their"
                    + " agents); `pinfleet resume " + id + "` continues it");
        } else {
            err.println("\npinfleet: detached from rollout " + id + ", which goes on at the " + conn.where()
                    + "; `pinfleet watch " + id + "` reattaches");
        }
        err.flush();
    }
}

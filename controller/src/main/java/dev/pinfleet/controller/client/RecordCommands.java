package dev.pinfleet.controller.client;

import com.google.gson.JsonArray;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.OperatorAction;
import dev.pinfleet.proto.v1.AuditRequest;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.ShowResponse;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pinfleet history | show | audit}: the controller's records, as tables or JSON. */
public final class RecordCommands {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT)
            .withZone(ZoneOffset.UTC);

    private RecordCommands() {}

    /** A record as the project's JSON ({@link ProtoJson}), every field present (an empty message, a zero count). */
    static String json(Message m) {
        return ProtoJson.pretty(ProtoJson.everyField(m));
    }

    static void jsonArray(List<? extends Message> items, PrintWriter out) {
        JsonArray a = new JsonArray();
        items.forEach(m -> a.add(ProtoJson.everyField(m)));
        out.print(ProtoJson.pretty(a));
        out.flush();
    }

    static String time(Timestamp t) {
        return t.getSeconds() == 0 && t.getNanos() == 0 ? "-" : TIME.format(Instant.ofEpochMilli(Timestamps.toMillis(t)));
    }

    static String duration(long ms) {
        long s = ms / 1000;
        return s < 60 ? String.format(Locale.ROOT, "%.1fs", ms / 1000.0) : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }

    static String nodes(Map<String, Integer> counts) {
        return counts.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).collect(Collectors.joining(", "));
    }

    @Command(mixinStandardHelpOptions = true, name = "history", description = {
        "List rollouts, newest first: id, app, serial, digest, operator, started, duration, outcome, nodes, message;",
        "then a summary line (all that -q prints). -v adds a line per rollout: environment, kind, signing keys, ended,",
        "why it stopped. With --json: a JSON array of the rollouts' records (id, app, environment, kind, serial, digest,",
        "key_ids, operator, message, outcome, submitted, started, ended, duration_ms, nodes_total, nodes by outcome,",
        "stopped)."})
    public static final class History implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Mixin ControllerOptions controller;

        @Option(names = "--app", paramLabel = "APP", description = "Only this app.")
        String app;

        @Option(names = {"-n", "--limit"}, defaultValue = "20", paramLabel = "N", description = "At most N rollouts (default: ${DEFAULT-VALUE}).")
        int limit;

        @Mixin OutputOptions print;

        private final Clock clock;
        private final CliContext ctx;

        public History(Clock clock, Terminal terminal, CliContext ctx) {
            this.clock = clock;
            this.ctx = ctx;
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            List<RolloutSummary> rows;
            try (Connection conn = Connection.open(controller, new AgentTlsOptions(), null, ctx, clock)) {
                if (!print.json()) {
                    Calls.noticeInterrupted(conn, 0, spec.commandLine().getErr());
                }
                rows = Calls.call("history", () -> conn.blocking().history(HistoryRequest.newBuilder()
                        .setApp(app == null ? "" : app).setLimit(Math.max(1, limit)).build())).getRolloutsList();
            }
            if (print.json()) {
                jsonArray(rows, out);
                return 0;
            }
            String fmt = "%5s  %-12s %11s  %-12s  %-10s %-19s  %8s  %-11s  %-24s %s";
            print.line(fmt, "ID", "APP", "SERIAL", "DIGEST", "OPERATOR", "STARTED (UTC)", "DURATION", "OUTCOME", "NODES",
                    "MESSAGE");
            for (RolloutSummary r : rows) {
                print.line(fmt, r.getId(), r.getApp(), r.getSerial(), r.getDigest().substring(0, Math.min(12,
                        r.getDigest().length())), r.getOperator(), time(r.getStarted()), duration(r.getDurationMs()),
                        Outcomes.key(r.getOutcome()), nodes(r.getNodesMap()), r.getMessage());
                print.detail("%5s  %s%s, signed by %s, ended %s UTC%s", "", Outcomes.key(r.getKind()),
                        r.getEnvironment().isEmpty() ? "" : " (environment " + r.getEnvironment() + ")",
                        r.getKeyIdsList().isEmpty() ? "-" : String.join(" ", r.getKeyIdsList()), time(r.getEnded()),
                        r.getStopped().isEmpty() ? "" : "; stopped: " + r.getStopped());
            }
            print.summary("%d rollout(s)%s%s", rows.size(), app == null ? "" : " of " + app, rows.isEmpty() ? ""
                    : "; newest: " + rows.get(0).getId() + " (" + Outcomes.key(rows.get(0).getOutcome()) + ")");
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "show", description = {
        "Show one rollout's record: who, what, why, when; the report so far (or the final one); the event timeline.",
        "-q prints its first line only (id, kind, app, serial, outcome, nodes by outcome); -v adds the strategy.",
        "With --json: the whole record (summary, targets with the inventory snapshot, strategy, the signed",
        "envelope, report, events) as JSON."})
    public static final class Show implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Mixin ControllerOptions controller;

        @Parameters(paramLabel = "ID", description = "The rollout's id (see history).")
        long id;

        @Mixin OutputOptions print;

        private final Clock clock;
        private final CliContext ctx;

        public Show(Clock clock, Terminal terminal, CliContext ctx) {
            this.clock = clock;
            this.ctx = ctx;
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            ShowResponse r;
            try (Connection conn = Connection.open(controller, new AgentTlsOptions(), null, ctx, clock)) {
                r = Calls.call("show " + id, () -> conn.blocking().show(ShowRequest.newBuilder().setRolloutId(id).build()));
            }
            if (print.json()) {
                out.print(json(r));
                out.flush();
                return 0;
            }
            RolloutSummary s = r.getRollout();
            print.summary("rollout %d: %s of %s%s serial %d: %s%s", s.getId(), Outcomes.key(s.getKind()), s.getApp(),
                    s.getEnvironment().isEmpty() ? "" : " (" + s.getEnvironment() + ")", s.getSerial(),
                    Outcomes.key(s.getOutcome()), s.getNodesMap().isEmpty() ? "" : " (" + nodes(s.getNodesMap()) + ")");
            print.line("digest:    %s", s.getDigest());
            print.line("outcome:   %s%s", Outcomes.key(s.getOutcome()), s.getStopped().isEmpty() ? ""
                    : " (stopped: " + s.getStopped() + ")");
            print.line("operator:  %s%s", s.getOperator(), s.getMessage().isEmpty() ? "" : ", message: " + s.getMessage());
            print.line("times:     submitted %s, started %s, ended %s UTC (%s)", time(s.getSubmitted()),
                    time(s.getStarted()), time(s.getEnded()), duration(s.getDurationMs()));
            print.line("signed by: %s", String.join(", ", s.getKeyIdsList()));
            print.line("targets:   %d node(s) of %s%s%s", s.getNodesTotal(), r.getTargets().getInventory(),
                    r.getTargets().getLimit().isEmpty() ? "" : " --limit " + r.getTargets().getLimit(),
                    s.getRetryOf().isEmpty() ? "" : ", retrying " + s.getRetryOf());
            dev.pinfleet.proto.v1.Strategy st = r.getStrategy();
            print.detail("strategy:  canary %d, batch %s, max failures %s (%d node(s)), %d at once, stuck after %d s, node"
                    + " deadline %d s%s", st.getCanary(), st.getBatch(), st.getMaxFailures(), st.getMaxFailuresNodes(),
                    st.getForks(), st.getStuckSeconds(), st.getNodeDeadlineSeconds(), st.getPauseAfterCanary()
                    ? ", pause after the canary" : "");
            print.line("nodes:     %s%n", Outcomes.progress(s));
            if (print.quiet()) {
                return 0;
            }
            ReportTable.print(r.getReport(), out);
            out.println();
            out.println("events:");
            for (RolloutEvent e : r.getEventsList()) {
                out.printf("  %4d  %s  %s%n", e.getSeq(), TIME.format(Instant.ofEpochMilli(e.getAtUnixMs())), describe(e));
            }
            out.flush();
            return 0;
        }

        private static String describe(RolloutEvent e) {
            return switch (e.getEventCase()) {
                case STATE -> Outcomes.key(e.getState().getTo()) + ": " + e.getState().getReason()
                        + (e.getState().getBy().isEmpty() ? "" : " (by " + e.getState().getBy() + ")");
                case WAVE -> (e.getWave().getWave() == 0 ? "canary" : "batch " + e.getWave().getWave() + " of "
                        + (e.getWave().getWaves() - 1)) + ": " + String.join(" ", e.getWave().getNodesList());
                case NODE_STARTED -> e.getNodeStarted().getNode() + " started (" + e.getNodeStarted().getAddress() + ")";
                case NODE -> e.getNode().getNode() + " " + (e.getNode().getEvent().hasPhaseStarted()
                        ? e.getNode().getEvent().getPhaseStarted().name().toLowerCase(Locale.ROOT)
                        : e.getNode().getEvent().hasCheck() ? e.getNode().getEvent().getCheck().getKind() + " "
                                + (e.getNode().getEvent().getCheck().getOk() ? "ok" : "FAILED") : "event");
                case NODE_FINISHED -> e.getNodeFinished().getNode() + " " + ReportTable.outcome(e.getNodeFinished()
                        .getOutcome()) + " in " + e.getNodeFinished().getMillis() + " ms" + (e.getNodeFinished().getError()
                        .isEmpty() ? "" : ": " + e.getNodeFinished().getError());
                case STOPPED -> "stopped: " + e.getStopped();
                case NOTE -> e.getNote();
                case FINISHED -> "final report";
                default -> e.getEventCase().name().toLowerCase(Locale.ROOT);
            };
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "audit", description = {
        "List operator actions, newest first: every submit, queue, cancel, rollback, retry, resume and pause answer",
        "(who, when, which rollout, what); then a summary line (all that -q prints); -v adds each entry's position",
        "in the audit log. With --json: a JSON array (id, at, operator, action, rollout_id, detail)."})
    public static final class Audit implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Mixin ControllerOptions controller;

        @Option(names = "--rollout", paramLabel = "ID", defaultValue = "0", description = "Only actions on this rollout.")
        long rollout;

        @Option(names = {"-n", "--limit"}, defaultValue = "50", paramLabel = "N", description = "At most N entries (default: ${DEFAULT-VALUE}).")
        int limit;

        @Mixin OutputOptions print;

        private final Clock clock;
        private final CliContext ctx;

        public Audit(Clock clock, Terminal terminal, CliContext ctx) {
            this.clock = clock;
            this.ctx = ctx;
        }

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            List<OperatorAction> rows;
            try (Connection conn = Connection.open(controller, new AgentTlsOptions(), null, ctx, clock)) {
                rows = Calls.call("audit", () -> conn.blocking().audit(AuditRequest.newBuilder().setRolloutId(rollout)
                        .setLimit(Math.max(1, limit)).build())).getEntriesList();
            }
            if (print.json()) {
                jsonArray(rows, out);
                return 0;
            }
            String fmt = (print.verbose() ? "%6s  " : "%s") + "%-19s  %-12s %-8s %7s  %s";
            print.line(fmt, print.verbose() ? "ENTRY" : "", "TIME (UTC)", "OPERATOR", "ACTION", "ROLLOUT", "DETAIL");
            for (OperatorAction a : rows) {
                print.line(fmt, print.verbose() ? Long.toString(a.getId()) : "", time(a.getAt()), a.getOperator(),
                        a.getAction(), a.getRolloutId() == 0 ? "-" : Long.toString(a.getRolloutId()), a.getDetail());
            }
            print.summary("%d operator action(s)%s", rows.size(), rollout == 0 ? "" : " on rollout " + rollout);
            return 0;
        }
    }
}

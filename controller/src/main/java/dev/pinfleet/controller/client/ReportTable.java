package dev.pinfleet.controller.client;

import dev.pinfleet.controller.rollout.Rollout;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The per-node summary table an operator reads at the end of a deploy: a row per node for a fleet of at most
 * {@link #LISTED} nodes; for a larger one a row per node that did not end ok (at most {@link #LISTED}), then the
 * counts by outcome and by reason (the --report file and `pinfleet show --json` hold every node).
 */
public final class ReportTable {
    /** Fleets up to this many nodes get a row per node; beyond, at most this many rows of nodes that did not end ok. */
    public static final int LISTED = 50;

    private ReportTable() {}

    public static void print(FleetReport report, PrintWriter out) {
        boolean all = report.getNodesCount() <= LISTED;
        List<NodeReport> rows = report.getNodesList().stream()
                .filter(n -> all || !Outcomes.isSuccess(n.getOutcome())).toList();
        int w = "NODE".length();
        for (NodeReport n : rows) {
            w = Math.max(w, n.getNode().length());
        }
        String fmt = "%-" + w + "s  %-11s  %7s  %10s  %10s  %8s  %-18s  %s%n";
        if (!rows.isEmpty()) {
            out.printf(fmt, "NODE", "OUTCOME", "FETCHED", "FROM STORE", "BYTES", "MS", "REASON", "RELEASE / ERROR");
        }
        for (NodeReport n : rows.subList(0, Math.min(rows.size(), all ? rows.size() : LISTED))) {
            Outcomes.Transfer t = Outcomes.transfer(n);
            boolean good = Outcomes.isSuccess(n.getOutcome());
            out.printf(fmt, n.getNode(), outcome(n.getOutcome()), t.fetched(), t.fromStore(), human(t.bytes()), n.getMillis(),
                    orDash(Outcomes.reason(n)), good ? n.getReport().getRelease() : n.getError());
        }
        long ok = report.getNodesList().stream().filter(n -> Outcomes.isSuccess(n.getOutcome())).count();
        if (!all) {
            out.printf("(%d node(s) ok not listed%s; the --report file and `pinfleet show ID --json` hold every node)%n",
                    ok, rows.size() > LISTED ? ", nor " + (rows.size() - LISTED) + " more not ok" : "");
        }
        out.printf("%d of %d node(s) ok; app %s serial %d digest %s%n", ok, report.getNodesCount(), report.getApp(),
                report.getSerial(), report.getManifestDigest().isEmpty() ? "-" : report.getManifestDigest().substring(0, 16));
        out.println("outcomes: " + byOutcome(Rollout.counts(report)));
        Map<String, Integer> reasons = new TreeMap<>();
        rows.forEach(n -> reasons.merge(orDash(Outcomes.reason(n)), 1, Integer::sum));
        if (!all && !reasons.isEmpty()) {
            StringBuilder b = new StringBuilder();
            reasons.forEach((r, c) -> b.append(b.length() == 0 ? "" : ", ").append(c).append(' ').append(r));
            out.println("not ok by reason: " + b);
        }
        if (!report.getStopped().isEmpty()) {
            out.println("stopped: " + report.getStopped());
        }
        if (ok == 0) {
            out.println("fleet consistency: not checked, no node succeeded");
        } else if (report.getInconsistenciesCount() == 0) {
            out.println("fleet consistency: every successful node reports the manifest's digest and artifact sha256 values");
        } else {
            out.println("fleet consistency: " + report.getInconsistenciesCount() + " difference(s):");
            report.getInconsistenciesList().stream().limit(LISTED).forEach(i -> out.println("  " + i));
            if (report.getInconsistenciesCount() > LISTED) {
                out.println("  … " + (report.getInconsistenciesCount() - LISTED) + " more (in the report)");
            }
        }
        out.flush();
    }

    /** Counts by outcome in words: "998 ok, 2 FAILED". */
    static String byOutcome(Map<NodeOutcome, Integer> counts) {
        StringBuilder b = new StringBuilder();
        counts.forEach((o, c) -> b.append(b.length() == 0 ? "" : ", ").append(c).append(' ').append(outcome(o)));
        return b.toString();
    }

    public static String outcome(NodeOutcome o) {
        return switch (o) {
            case NODE_OK -> "ok";
            case NODE_UNCHANGED -> "unchanged";
            case NODE_FAILED -> "FAILED";
            case NODE_UNREACHABLE -> "UNREACHABLE";
            case NODE_SKIPPED -> "skipped";
            case NODE_STUCK -> "STUCK";
            case NODE_REVERTED -> "REVERTED";
            case NODE_CANCELLED -> "CANCELLED";
            default -> "?";
        };
    }

    /**
     * A typed failure reason as the table shows it: {@code REASON_FETCH_NOT_FOUND} is {@code fetch/not-found},
     * {@code REASON_ABORTED} is {@code aborted}; {@code -} when there is none.
     */
    public static String reason(FailureReason r) {
        return orDash(Outcomes.reason(r));
    }

    private static String orDash(String s) {
        return s.isEmpty() ? "-" : s;
    }

    public static String human(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        double v = bytes;
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        int i = -1;
        while (v >= 1024 && i < units.length - 1) {
            v /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[i]);
    }
}

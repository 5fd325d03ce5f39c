package dev.pinfleet.controller.client;

import dev.pinfleet.controller.rollout.Rollout;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.util.Locale;

/** The per-node summary table an operator reads at the end of a deploy. */
public final class ReportTable {
    private ReportTable() {}

    public static void print(FleetReport report, PrintWriter out) {
        int w = "NODE".length();
        for (NodeReport n : report.getNodesList()) {
            w = Math.max(w, n.getNode().length());
        }
        String fmt = "%-" + w + "s  %-11s  %7s  %10s  %10s  %8s  %-18s  %s%n";
        out.printf(fmt, "NODE", "OUTCOME", "FETCHED", "FROM STORE", "BYTES", "MS", "REASON", "RELEASE / ERROR");
        int ok = 0;
        for (NodeReport n : report.getNodesList()) {
            Outcomes.Transfer t = Outcomes.transfer(n);
            boolean good = Outcomes.isSuccess(n.getOutcome());
            if (good) {
                ok++;
            }
            out.printf(fmt, n.getNode(), outcome(n.getOutcome()), t.fetched(), t.fromStore(), human(t.bytes()), n.getMillis(),
                    orDash(Outcomes.reason(n)), good ? n.getReport().getRelease() : n.getError());
        }
        out.printf("%d of %d node(s) ok; app %s serial %d digest %s%n", ok, report.getNodesCount(), report.getApp(),
                report.getSerial(), report.getManifestDigest().isEmpty() ? "-" : report.getManifestDigest().substring(0, 16));
        StringBuilder counts = new StringBuilder();
        Rollout.counts(report).forEach((o, c) -> counts.append(counts.length() == 0 ? "" : ", ").append(c).append(' ')
                .append(outcome(o)));
        out.println("outcomes: " + counts);
        if (!report.getStopped().isEmpty()) {
            out.println("stopped: " + report.getStopped());
        }
        if (ok == 0) {
            out.println("fleet consistency: not checked, no node succeeded");
        } else if (report.getInconsistenciesCount() == 0) {
            out.println("fleet consistency: every successful node reports the manifest's digest and artifact sha256 values");
        } else {
            out.println("fleet consistency: " + report.getInconsistenciesCount() + " difference(s):");
            report.getInconsistenciesList().forEach(i -> out.println("  " + i));
        }
        out.flush();
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

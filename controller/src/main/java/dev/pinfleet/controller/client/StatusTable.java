package dev.pinfleet.controller.client;

import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Health;
import dev.pinfleet.proto.v1.NodeStatus;
import dev.pinfleet.proto.v1.Outcome;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The text of {@code pinfleet status}, readable for 10,000 nodes as the deploy's display is ({@link FleetTally}): a
 * fleet of at most {@link ReportTable#LISTED} nodes gets a row per node and app; a larger one gets rows only for the
 * nodes that need a look (unreachable, drifted, unhealthy, last deploy not ok; at most {@link ReportTable#LISTED}, the
 * rest counted), then per app its nodes by release, by health and by last outcome. {@code --json} keeps every node.
 */
final class StatusTable {
    private static final String FMT = "%-14s %-10s %7s  %-16s  %-16s  %-10s  %-9s %s";

    /** What the fleet's answers add up to. */
    record Counts(int unreachable, int drifted) {}

    /** One row: a node's app, or the node alone when it has none or did not answer; {@code attention} when it needs a look. */
    private record Row(Object[] cells, boolean attention) {}

    private final Map<String, String> expected;
    private final String app;
    private final OutputOptions print;
    /** Per app: release and digest → nodes; health → nodes; last outcome → nodes. */
    private final Map<String, Map<String, Integer>> byRelease = new TreeMap<>();
    private final Map<String, Map<String, Integer>> byHealth = new TreeMap<>();
    private final Map<String, Map<String, Integer>> byLast = new TreeMap<>();

    /**
     * @param expected per app, the digest (or prefix) nodes should run
     * @param app the app asked about, or null for every app
     */
    StatusTable(Map<String, String> expected, String app, OutputOptions print) {
        this.expected = expected;
        this.app = app;
        this.print = print;
    }

    /** Prints the table (or its large-fleet form) and returns the counts for the summary line and the exit code. */
    Counts print(List<NodeStatus> answers) {
        boolean all = answers.size() <= ReportTable.LISTED;
        int unreachable = 0;
        int drifted = 0;
        List<Row> shown = new ArrayList<>();
        int unlisted = 0;
        for (NodeStatus a : answers) {
            List<Row> rows = new ArrayList<>();
            if (!a.hasStatus()) {
                unreachable++;
                rows.add(new Row(new Object[] {a.getNode(), "-", "-", "-", "-", "-", "UNREACHABLE", a.getError()}, true));
            } else if (a.getStatus().getAppsCount() == 0) {
                boolean missing = app != null || !expected.isEmpty();
                drifted += missing ? 1 : 0;
                count(byRelease, app == null ? "-" : app, "no release");
                rows.add(new Row(new Object[] {a.getNode(), app == null ? "-" : app, "-", "-", "-", "-", "-",
                        missing ? "DRIFT: no release" : ""}, missing));
            }
            for (AppStatus s : a.hasStatus() ? a.getStatus().getAppsList() : List.<AppStatus>of()) {
                Row r = row(a.getNode(), s);
                drifted += drifted(s) ? 1 : 0;
                rows.add(r);
            }
            boolean look = rows.stream().anyMatch(Row::attention);
            if (all || look && shown.size() < ReportTable.LISTED) {
                shown.addAll(rows);
            } else if (look) {
                unlisted++;
            }
        }
        if (all || !shown.isEmpty()) {
            print.line(FMT, "NODE", "APP", "SERIAL", "RELEASE", "DIGEST", "HEALTH", "LAST", "");
        }
        shown.forEach(r -> print.line(FMT, r.cells()));
        if (!all) {
            long listed = shown.stream().map(r -> r.cells()[0]).distinct().count();
            print.line("(%s%s; --json holds every node)", listed == 0 ? "no node needs a look"
                    : listed + " node(s) listed: those that need a look", unlisted > 0 ? ", " + unlisted + " more not listed" : "");
            byRelease.forEach((a, m) -> print.line("%s by release: %s", a, join(m)));
            byHealth.forEach((a, m) -> print.line("%s by health: %s", a, join(m)));
            byLast.forEach((a, m) -> print.line("%s by last deploy: %s", a, join(m)));
        }
        return new Counts(unreachable, drifted);
    }

    private boolean drifted(AppStatus s) {
        String want = expected.get(s.getApp());
        return want != null && !s.getManifestDigest().startsWith(want);
    }

    private Row row(String node, AppStatus s) {
        String want = expected.get(s.getApp());
        boolean drifted = drifted(s);
        String note = drifted ? "DRIFT: expected " + want.substring(0, Math.min(16, want.length())) : "";
        if (!s.getLastError().isEmpty()) {
            note += (note.isEmpty() ? "" : "; ") + s.getLastError();
        }
        if (!s.getHealthDetail().isEmpty()) {
            note += (note.isEmpty() ? "" : "; ") + s.getHealthDetail();
        }
        String digest = s.getManifestDigest().isEmpty() ? "-" : print.verbose() ? s.getManifestDigest()
                : s.getManifestDigest().substring(0, 16);
        String release = s.getRelease().isEmpty() ? "-" : s.getRelease();
        String last = s.getLastOutcome().name().toLowerCase(Locale.ROOT);
        count(byRelease, s.getApp(), s.getRelease().isEmpty() ? "no release"
                : s.getManifestDigest().startsWith(release) ? release : release + " (" + digest + ")");
        count(byHealth, s.getApp(), health(s.getHealth()));
        count(byLast, s.getApp(), last);
        boolean attention = drifted || s.getHealth() == Health.UNHEALTHY || s.getLastOutcome() == Outcome.FAILED
                || s.getLastOutcome() == Outcome.REVERTED;
        return new Row(new Object[] {node, s.getApp(), s.getSerial(), release, digest, health(s.getHealth()), last,
                note}, attention);
    }

    private static void count(Map<String, Map<String, Integer>> per, String app, String key) {
        per.computeIfAbsent(app, x -> new LinkedHashMap<>()).merge(key, 1, Integer::sum);
    }

    /** "9990 RELEASE, 10 no release" (a release id not taken from its digest is followed by the digest): most first. */
    private static String join(Map<String, Integer> counts) {
        StringBuilder b = new StringBuilder();
        counts.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                .forEach(e -> b.append(b.length() == 0 ? "" : ", ").append(e.getValue()).append(' ').append(e.getKey()));
        return b.toString();
    }

    static String health(Health h) {
        return switch (h) {
            case HEALTHY -> "healthy";
            case UNHEALTHY -> "UNHEALTHY";
            case HEALTH_NONE -> "-";
            default -> "unknown";
        };
    }
}

package dev.pinfleet.controller.client;

import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * What the text displays list, so that they stay readable for 10,000 nodes: a fleet of at most
 * {@link ReportTable#LISTED} nodes gets a line per node; a larger one gets a line per node that did not end ok (at
 * most {@link ReportTable#LISTED}, the rest counted) and, as each wave ends, one line with its nodes by outcome.
 * Wave headers name at most {@link #NAMES_SHOWN} nodes. Not thread-safe: its display calls it under its own lock.
 */
final class FleetTally {
    /** Node names a wave's header lists before it abbreviates. */
    static final int NAMES_SHOWN = 10;

    private int nodes;
    private int notOkListed;
    private int notOkUnlisted;
    private String wave;
    private long waveStart;
    private final Map<NodeOutcome, Integer> waveCounts = new EnumMap<>(NodeOutcome.class);

    void started(int nodes) {
        this.nodes = nodes;
    }

    /** Whether every node gets its own line. */
    boolean listsEveryNode() {
        return nodes <= ReportTable.LISTED;
    }

    /** The header of a wave: its name and nodes (abbreviated beyond {@link #NAMES_SHOWN}). */
    String waveStarted(int w, int waves, List<String> names, long nowMillis) {
        wave = w == 0 ? "canary" : "batch " + w + " of " + (waves - 1);
        waveStart = nowMillis;
        waveCounts.clear();
        return wave + ": " + names(names);
    }

    static String names(List<String> names) {
        if (names.size() <= NAMES_SHOWN) {
            return String.join(" ", names);
        }
        return names.size() + " nodes (" + String.join(" ", names.subList(0, NAMES_SHOWN - 1)) + " … "
                + names.get(names.size() - 1) + ")";
    }

    /** Counts a node's end; true when the display should give it a line. */
    boolean ended(NodeReport r) {
        waveCounts.merge(r.getOutcome(), 1, Integer::sum);
        if (listsEveryNode()) {
            return true;
        }
        if (Outcomes.isSuccess(r.getOutcome())) {
            return false;
        }
        if (notOkListed < ReportTable.LISTED) {
            notOkListed++;
            return true;
        }
        notOkUnlisted++;
        return false;
    }

    /**
     * The line that closes the wave that ran (a large fleet only): its nodes by outcome, its wall time, and how many
     * nodes not ok went unlisted so far; null when there is nothing to say. Clears the wave.
     */
    String waveEnded(long nowMillis) {
        if (wave == null || listsEveryNode() || waveCounts.isEmpty()) {
            wave = null;
            return null;
        }
        StringBuilder b = new StringBuilder("  " + wave + " ended: ");
        int n = waveCounts.values().stream().mapToInt(Integer::intValue).sum();
        b.append(n).append(" node(s), ").append(ReportTable.byOutcome(waveCounts)).append(", ")
                .append(String.format("%.1f s", (nowMillis - waveStart) / 1000.0));
        if (notOkUnlisted > 0) {
            b.append("; ").append(notOkUnlisted).append(" node(s) not ok beyond the first ").append(ReportTable.LISTED)
                    .append(" not listed (the report lists them)");
        }
        wave = null;
        return b.toString();
    }
}

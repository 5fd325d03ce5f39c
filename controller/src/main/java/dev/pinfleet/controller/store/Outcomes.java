package dev.pinfleet.controller.store;

import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The words the records use for states, kinds and outcomes (database columns, summary keys, the CLI's tables). */
public final class Outcomes {
    /** A node not started yet. */
    public static final String PENDING = "pending";
    /** A node in flight. */
    public static final String RUNNING = "running";

    /** States in which a rollout holds its app and environment. */
    public static final Set<RolloutState> HOLDING = EnumSet.of(RolloutState.ROLLOUT_RUNNING,
            RolloutState.ROLLOUT_PAUSED, RolloutState.ROLLOUT_CANCELLING, RolloutState.ROLLOUT_INTERRUPTED);
    /** States of a rollout that has not ended. */
    public static final Set<RolloutState> ACTIVE = EnumSet.of(RolloutState.ROLLOUT_QUEUED,
            RolloutState.ROLLOUT_RUNNING, RolloutState.ROLLOUT_PAUSED, RolloutState.ROLLOUT_CANCELLING,
            RolloutState.ROLLOUT_INTERRUPTED);

    private Outcomes() {}

    /** "ok", "unchanged", "failed", "unreachable", "skipped", "stuck", "reverted", "cancelled". */
    public static String key(NodeOutcome o) {
        return o.name().substring("NODE_".length()).toLowerCase(Locale.ROOT);
    }

    /** "queued", "running", …, "interrupted". */
    public static String key(RolloutState s) {
        return s.name().substring("ROLLOUT_".length()).toLowerCase(Locale.ROOT);
    }

    public static RolloutState state(String key) {
        return RolloutState.valueOf("ROLLOUT_" + key.toUpperCase(Locale.ROOT));
    }

    /** "deploy", "rollback", "retry". */
    public static String key(RolloutKind k) {
        return k.name().substring("ROLLOUT_".length()).toLowerCase(Locale.ROOT);
    }

    public static RolloutKind kind(String key) {
        return RolloutKind.valueOf("ROLLOUT_" + key.toUpperCase(Locale.ROOT));
    }

    public static boolean isSuccess(NodeOutcome o) {
        return o == NodeOutcome.NODE_OK || o == NodeOutcome.NODE_UNCHANGED;
    }

    /** The outcomes that spend the failure budget. */
    public static boolean isFailure(NodeOutcome o) {
        return o == NodeOutcome.NODE_FAILED || o == NodeOutcome.NODE_UNREACHABLE || o == NodeOutcome.NODE_STUCK
                || o == NodeOutcome.NODE_REVERTED;
    }

    /**
     * Where a rollout stands, in words: "4 of 10 node(s) ended (3 ok, 1 failed), 2 in flight, 4 pending".
     */
    public static String progress(RolloutSummary r) {
        int running = r.getNodesOrDefault(RUNNING, 0);
        int pending = r.getNodesOrDefault(PENDING, 0);
        StringBuilder ended = new StringBuilder();
        r.getNodesMap().entrySet().stream().filter(e -> !e.getKey().equals(RUNNING) && !e.getKey().equals(PENDING))
                .sorted(java.util.Map.Entry.<String, Integer>comparingByValue().reversed()
                        .thenComparing(java.util.Map.Entry.comparingByKey()))
                .forEach(e -> ended.append(ended.length() == 0 ? "" : ", ").append(e.getValue()).append(' ').append(e.getKey()));
        int done = r.getNodesTotal() - running - pending;
        return done + " of " + r.getNodesTotal() + " node(s) ended" + (ended.length() == 0 ? "" : " (" + ended + ")")
                + (running > 0 ? ", " + running + " in flight" : "") + (pending > 0 ? ", " + pending + " pending" : "");
    }

    /**
     * A typed failure reason as a word: {@code REASON_FETCH_NOT_FOUND} is {@code fetch/not-found},
     * {@code REASON_ABORTED} is {@code aborted}; empty when there is none.
     */
    public static String reason(FailureReason r) {
        if (r == FailureReason.REASON_UNSPECIFIED || r == FailureReason.UNRECOGNIZED) {
            return "";
        }
        String s = r.name().substring("REASON_".length()).toLowerCase(Locale.ROOT);
        int cut = s.indexOf('_');
        return cut < 0 ? s : s.substring(0, cut) + "/" + s.substring(cut + 1).replace('_', '-');
    }

    /**
     * Why a node did not succeed, as the records keep it: the typed reason its agent (or the controller) set, as
     * {@link #reason(FailureReason)} words it ({@code fetch/checksum}, {@code busy}, {@code cancelled}, …); else what
     * the controller saw ({@code unreachable}, {@code stuck}, {@code dropped}, {@code deadline}, {@code skipped},
     * {@code interrupted}); empty on success.
     */
    public static String reason(NodeReport n) {
        if (isSuccess(n.getOutcome())) {
            return "";
        }
        String typed = reason(n.getReport().getReason());
        if (!typed.isEmpty()) {
            return typed;
        }
        switch (n.getOutcome()) {
            case NODE_UNREACHABLE -> {
                return "unreachable";
            }
            case NODE_STUCK -> {
                return "stuck";
            }
            case NODE_SKIPPED -> {
                return "skipped";
            }
            case NODE_CANCELLED -> {
                return "cancelled";
            }
            default -> {
            }
        }
        String e = n.getError();
        if (e.contains("connection dropped mid-deploy")) {
            return "dropped";
        }
        if (e.contains("node deadline")) {
            return "deadline";
        }
        if (e.contains("the controller stopped while this node deployed")) {
            return "interrupted";
        }
        return "failed";
    }
}

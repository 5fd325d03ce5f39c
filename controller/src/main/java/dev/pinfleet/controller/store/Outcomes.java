package dev.pinfleet.controller.store;

import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.Source;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The words the records use for states, kinds and outcomes (database columns, summary keys, the CLI's tables). */
public final class Outcomes {
    /** A node not started yet. */
    public static final String PENDING = "pending";
    /** A node in flight. */
    public static final String RUNNING = "running";

    /** {@code NodeReport.cause}: the connection went after the agent had begun. */
    public static final String DROPPED = "dropped";
    /** {@code NodeReport.cause}: no report within the node deadline. */
    public static final String DEADLINE = "deadline";
    /** {@code NodeReport.cause}: the controller stopped while the node deployed; resume found it elsewhere. */
    public static final String INTERRUPTED = "interrupted";
    /** {@code NodeReport.cause}: the agent closed the stream without a report. */
    public static final String NO_REPORT = "no-report";
    /** {@code NodeReport.cause}: another gRPC error ended the call. */
    public static final String GRPC = "grpc";

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

    /** What a node's deploy moved: artifacts fetched from a mirror, artifacts found in its store, bytes fetched. */
    public record Transfer(int fetched, int fromStore, long bytes) {}

    /** Counts a node report's artifacts by source (none when the node has no agent report). */
    public static Transfer transfer(NodeReport n) {
        int fetched = 0;
        int stored = 0;
        long bytes = 0;
        for (ArtifactResult a : n.getReport().getArtifactsList()) {
            if (a.getSource() == Source.MIRROR) {
                fetched++;
                bytes += a.getBytes();
            } else if (a.getSource() == Source.STORE) {
                stored++;
            }
        }
        return new Transfer(fetched, stored, bytes);
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
     * the controller saw: its {@code cause} ({@code dropped}, {@code deadline}, {@code interrupted}, …) or the outcome
     * ({@code unreachable}, {@code stuck}, {@code skipped}, {@code cancelled}); empty on success. Never read from the
     * error's words.
     */
    public static String reason(NodeReport n) {
        if (isSuccess(n.getOutcome())) {
            return "";
        }
        String typed = reason(n.getReport().getReason());
        if (!typed.isEmpty()) {
            return typed;
        }
        if (!n.getCause().isEmpty()) {
            return n.getCause();
        }
        return switch (n.getOutcome()) {
            case NODE_UNREACHABLE, NODE_STUCK, NODE_SKIPPED, NODE_CANCELLED -> key(n.getOutcome());
            default -> "failed";
        };
    }
}

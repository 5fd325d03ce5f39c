package dev.pinfleet.controller.store;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.proto.v1.OperatorAction;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Strategy;
import dev.pinfleet.proto.v1.Targets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/** Reads records back: rows into the API's messages. Shared by {@link JdbcRolloutStore}'s reads and writes. */
final class RecordReader {
    /** The columns {@link #record} reads, in its order. */
    static final String RECORD_COLUMNS = "id, app, environment, kind, serial, digest, key_ids, operator, message, retry_of,"
            + " state, stopped, submitted_ms, started_ms, ended_ms, nodes_total, targets, strategy, envelope, last_seq,"
            + " lease_owner, lease_epoch, lease_expires_ms, request, request_by, report";
    private static final String SUMMARY_COLUMNS = "id, app, environment, kind, serial, digest, key_ids, operator, message,"
            + " retry_of, state, stopped, submitted_ms, started_ms, ended_ms, nodes_total, last_seq";

    private final Clock clock;

    RecordReader(Clock clock) {
        this.clock = clock;
    }

    RolloutStore.RolloutRecord record(Connection c, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + RECORD_COLUMNS + " FROM rollouts WHERE id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? record(c, rs) : null;
            }
        }
    }

    List<RolloutStore.RolloutRecord> records(Connection c, String where, Object... args) throws SQLException {
        List<RolloutStore.RolloutRecord> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + RECORD_COLUMNS + " FROM rollouts " + where)) {
            bind(ps, args);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(record(c, rs));
                }
            }
        }
        return out;
    }

    private RolloutStore.RolloutRecord record(Connection c, ResultSet rs) throws SQLException {
        RolloutSummary s = summary(c, rs);
        byte[] report = rs.getBytes("report");
        return new RolloutStore.RolloutRecord(s, parse(rs.getBytes("targets"), Targets.parser()),
                parse(rs.getBytes("strategy"), Strategy.parser()), parse(rs.getBytes("envelope"), SignedManifest.parser()),
                rs.getLong("last_seq"), nullToEmpty(rs.getString("lease_owner")), rs.getLong("lease_epoch"),
                rs.getLong("lease_expires_ms"), nullToEmpty(rs.getString("request")),
                nullToEmpty(rs.getString("request_by")), report == null ? null : parse(report, FleetReport.parser()));
    }

    List<RolloutSummary> summaries(Connection c, String where, Object... args) throws SQLException {
        List<RolloutSummary> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + SUMMARY_COLUMNS + " FROM rollouts " + where)) {
            bind(ps, args);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(summary(c, rs));
                }
            }
        }
        return out;
    }

    RolloutSummary summary(Connection c, long id) throws SQLException {
        List<RolloutSummary> s = summaries(c, "WHERE id = ?", id);
        return s.isEmpty() ? null : s.get(0);
    }

    private RolloutSummary summary(Connection c, ResultSet rs) throws SQLException {
        long id = rs.getLong("id");
        RolloutState state = Outcomes.state(rs.getString("state"));
        RolloutSummary.Builder b = RolloutSummary.newBuilder().setId(id).setApp(rs.getString("app"))
                .setEnvironment(rs.getString("environment")).setKind(Outcomes.kind(rs.getString("kind")))
                .setSerial(rs.getLong("serial")).setDigest(rs.getString("digest"))
                .addAllKeyIds(split(rs.getString("key_ids"))).setOperator(rs.getString("operator"))
                .setMessage(rs.getString("message")).setRetryOf(rs.getString("retry_of")).setOutcome(state)
                .setStopped(rs.getString("stopped")).setNodesTotal(rs.getInt("nodes_total")).setLastSeq(rs.getLong("last_seq"))
                .setSubmitted(Timestamps.fromMillis(rs.getLong("submitted_ms")));
        long started = rs.getLong("started_ms");
        long ended = rs.getLong("ended_ms");
        if (started > 0) {
            b.setStarted(Timestamps.fromMillis(started));
            b.setDurationMs(Math.max(0, (ended > 0 ? ended : clock.millis()) - started));
        }
        if (ended > 0) {
            b.setEnded(Timestamps.fromMillis(ended));
        }
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT outcome, COUNT(*) FROM rollout_nodes WHERE rollout_id = ? GROUP BY outcome")) {
            ps.setLong(1, id);
            try (ResultSet n = ps.executeQuery()) {
                TreeMap<String, Integer> counts = new TreeMap<>();
                while (n.next()) {
                    counts.put(n.getString(1), n.getInt(2));
                }
                b.putAllNodes(counts);
            }
        }
        return b.build();
    }

    List<RolloutEvent> events(Connection c, long id, long afterSeq, int limit) throws SQLException {
        List<RolloutEvent> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT body FROM rollout_events WHERE rollout_id = ? AND seq > ? ORDER BY seq LIMIT ?")) {
            ps.setLong(1, id);
            ps.setLong(2, afterSeq);
            ps.setInt(3, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(parse(rs.getBytes(1), RolloutEvent.parser()));
                }
            }
        }
        return out;
    }

    List<RolloutStore.NodeRecord> nodes(Connection c, long id) throws SQLException {
        List<RolloutStore.NodeRecord> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT node, address, wave, outcome, started_ms, report"
                + " FROM rollout_nodes WHERE rollout_id = ? ORDER BY position")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    byte[] r = rs.getBytes("report");
                    out.add(new RolloutStore.NodeRecord(rs.getString("node"), rs.getString("address"), rs.getInt("wave"),
                            rs.getString("outcome"), rs.getLong("started_ms"),
                            r == null ? null : parse(r, NodeReport.parser())));
                }
            }
        }
        return out;
    }

    List<RolloutSummary> history(Connection c, String app, Set<RolloutState> states, int limit) throws SQLException {
        List<String> where = new ArrayList<>();
        List<Object> args = new ArrayList<>();
        if (app != null && !app.isEmpty()) {
            where.add("app = ?");
            args.add(app);
        }
        if (!states.isEmpty()) {
            where.add("state IN (" + states.stream().map(s -> "?").collect(Collectors.joining(", ")) + ")");
            states.forEach(s -> args.add(Outcomes.key(s)));
        }
        args.add(limit);
        return summaries(c, (where.isEmpty() ? "" : "WHERE " + String.join(" AND ", where)) + " ORDER BY id DESC LIMIT ?",
                args.toArray());
    }

    List<OperatorAction> audit(Connection c, long rolloutId, int limit) throws SQLException {
        List<OperatorAction> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT id, at_ms, operator, action, rollout_id, detail FROM audit"
                + (rolloutId > 0 ? " WHERE rollout_id = ?" : "") + " ORDER BY id DESC LIMIT ?")) {
            int i = 1;
            if (rolloutId > 0) {
                ps.setLong(i++, rolloutId);
            }
            ps.setInt(i, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(OperatorAction.newBuilder().setId(rs.getLong(1)).setAt(Timestamps.fromMillis(rs.getLong(2)))
                            .setOperator(rs.getString(3)).setAction(rs.getString(4)).setRolloutId(rs.getLong(5))
                            .setDetail(rs.getString(6)).build());
                }
            }
        }
        return out;
    }

    static void bind(PreparedStatement ps, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            if (a == null) {
                ps.setObject(i + 1, null);
            } else if (a instanceof Long l) {
                ps.setLong(i + 1, l);
            } else if (a instanceof Integer n) {
                ps.setInt(i + 1, n);
            } else if (a instanceof byte[] bytes) {
                ps.setBytes(i + 1, bytes);
            } else {
                ps.setString(i + 1, a.toString());
            }
        }
    }

    static <T> T parse(byte[] bytes, com.google.protobuf.Parser<T> parser) throws SQLException {
        try {
            return parser.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new SQLException("a record does not parse: " + e.getMessage(), e);
        }
    }

    private static List<String> split(String csv) {
        return csv.isEmpty() ? List.of() : Arrays.asList(csv.split(","));
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}

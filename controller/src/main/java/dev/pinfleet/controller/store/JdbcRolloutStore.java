package dev.pinfleet.controller.store;

import dev.pinfleet.proto.v1.OperatorAction;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.PhaseTiming;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.StateChange;
import dev.pinfleet.proto.v1.Target;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The records in a SQL database through JDBC: the same statements for SQLite and PostgreSQL (what differs is in
 * {@link Dialect} and the schema's placeholders). Lease-holder writes update the rollout's row first, on the
 * condition that its epoch is still theirs, which also locks the row: a takeover and a late write of the old holder
 * cannot interleave.
 */
public final class JdbcRolloutStore implements RolloutStore {
    private static final String ACTIVE = Outcomes.ACTIVE.stream().map(s -> "'" + Outcomes.key(s) + "'")
            .collect(Collectors.joining(", "));

    private final Database db;
    private final RecordReader read;

    /** The records in {@code db}; {@code clock} tells how long an active rollout has run. */
    public JdbcRolloutStore(Database db, Clock clock) {
        this.db = db;
        this.read = new RecordReader(clock);
    }

    private static String slot(String app, String environment) {
        return app + "/" + environment;
    }

    @Override
    public Submitted submit(NewRollout r, boolean queue, String owner, long now, long leaseMs) {
        try {
            return db.inTransaction(c -> submit(c, r, queue, owner, now, leaseMs), "cannot record the rollout");
        } catch (StoreException e) {
            if (e.getCause() instanceof SQLException s && db.dialect().isUniqueViolation(s)) {
                // Another controller took the app and environment between our look and our insert.
                RolloutSummary active = db.inTransaction(c -> holder(c, slot(r.app(), r.environment())), "cannot read");
                if (active != null && !queue) {
                    throw new ActiveRolloutException(active);
                }
                return db.inTransaction(c -> submit(c, r, queue, owner, now, leaseMs), "cannot record the rollout");
            }
            throw e;
        }
    }

    private Submitted submit(Connection c, NewRollout r, boolean queue, String owner, long now, long leaseMs)
            throws SQLException {
        String slot = slot(r.app(), r.environment());
        RolloutSummary ahead = holder(c, slot);
        if (ahead == null) {
            List<RolloutSummary> waiting = read.summaries(c, "WHERE app = ? AND environment = ? AND state = 'queued'"
                    + " ORDER BY id LIMIT 1", r.app(), r.environment());
            ahead = waiting.isEmpty() ? null : waiting.get(0);
        }
        if (ahead != null && !queue) {
            throw new ActiveRolloutException(ahead);
        }
        RolloutState state = ahead == null ? RolloutState.ROLLOUT_RUNNING : RolloutState.ROLLOUT_QUEUED;
        long id;
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rollouts (app, environment, kind, serial, digest,"
                + " key_ids, envelope, targets, strategy, operator, message, retry_of, state, active_slot, stopped,"
                + " submitted_ms, started_ms, nodes_total, last_seq, lease_owner, lease_epoch, lease_expires_ms)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, 1, ?, 1, ?) RETURNING id")) {
            RecordReader.bind(ps, r.app(), r.environment(), Outcomes.key(r.kind()), r.serial(), r.digest(),
                    String.join(",", r.keyIds()), r.envelope().toByteArray(), r.targets().toByteArray(),
                    r.strategy().toByteArray(), r.operator(), r.message(), r.retryOf(), Outcomes.key(state));
            if (ahead == null) {
                ps.setString(14, slot);
            } else {
                ps.setNull(14, java.sql.Types.VARCHAR);
            }
            ps.setLong(15, now);
            if (ahead == null) {
                ps.setLong(16, now);
            } else {
                ps.setNull(16, java.sql.Types.BIGINT);
            }
            ps.setInt(17, r.targets().getNodesCount());
            ps.setString(18, owner);
            ps.setLong(19, now + leaseMs);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                id = rs.getLong(1);
            }
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rollout_nodes (rollout_id, position, node, address,"
                + " wave, outcome, reason, error, reconciled) VALUES (?, ?, ?, ?, ?, 'pending', '', '', 0)")) {
            for (int i = 0; i < r.targets().getNodesCount(); i++) {
                Target t = r.targets().getNodes(i);
                RecordReader.bind(ps, id, i, t.getName(), address(t), r.waves().get(i));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        String why = ahead == null ? "submitted" : "queued behind rollout " + ahead.getId();
        RolloutEvent first = RolloutEvent.newBuilder().setRolloutId(id).setSeq(1).setAtUnixMs(now).setEpoch(1)
                .setState(StateChange.newBuilder().setTo(state).setReason(why).setBy(r.operator())).build();
        insertEvent(c, first);
        insertAudit(c, r.operator(), ahead == null ? Outcomes.key(r.kind()) : "queue", id, describe(r)
                + (ahead == null ? "" : "; queued behind rollout " + ahead.getId()), now);
        return new Submitted(read.summary(c, id), new Lease(id, owner, 1), ahead);
    }

    private static String describe(NewRollout r) {
        return r.app() + (r.environment().isEmpty() ? "" : " (" + r.environment() + ")") + " serial " + r.serial()
                + " digest " + r.digest().substring(0, Math.min(16, r.digest().length())) + " to "
                + r.targets().getNodesCount() + " node(s) of " + r.targets().getInventory()
                + (r.targets().getLimit().isEmpty() ? "" : " --limit " + r.targets().getLimit())
                + (r.message().isEmpty() ? "" : "; message: " + r.message());
    }

    static String address(Target t) {
        return (t.getHost().contains(":") ? "[" + t.getHost() + "]" : t.getHost()) + ":" + t.getPort();
    }

    private RolloutSummary holder(Connection c, String slot) throws SQLException {
        List<RolloutSummary> s = read.summaries(c, "WHERE active_slot = ?", slot);
        return s.isEmpty() ? null : s.get(0);
    }

    @Override
    public boolean startQueued(Lease lease, RolloutEvent event, long now) {
        try {
            return db.inTransaction(c -> {
                RolloutRecord r = read.record(c, lease.rolloutId());
                if (r == null || r.state() != RolloutState.ROLLOUT_QUEUED) {
                    return false;
                }
                String slot = slot(r.summary().getApp(), r.summary().getEnvironment());
                if (holder(c, slot) != null) {
                    return false;
                }
                try (PreparedStatement ps = c.prepareStatement("UPDATE rollouts SET state = 'running', active_slot = ?,"
                        + " started_ms = ?, last_seq = ? WHERE id = ? AND lease_epoch = ? AND lease_owner = ?")) {
                    RecordReader.bind(ps, slot, now, event.getSeq(), lease.rolloutId(), lease.epoch(), lease.owner());
                    if (ps.executeUpdate() == 0) {
                        return false;
                    }
                }
                insertEvent(c, event);
                return true;
            }, "cannot start the queued rollout " + lease.rolloutId());
        } catch (StoreException e) {
            if (e.getCause() instanceof SQLException s && db.dialect().isUniqueViolation(s)) {
                return false;
            }
            throw e;
        }
    }

    @Override
    public List<Boolean> apply(List<Change> changes) {
        return db.inTransaction(c -> {
            List<Boolean> out = new ArrayList<>();
            for (Change ch : changes) {
                out.add(apply(c, ch));
            }
            return out;
        }, "cannot record events");
    }

    private boolean apply(Connection c, Change ch) throws SQLException {
        long lastSeq = ch.events().stream().mapToLong(RolloutEvent::getSeq).max().orElse(0);
        StringBuilder sql = new StringBuilder("UPDATE rollouts SET last_seq = CASE WHEN last_seq > ? THEN last_seq ELSE ? END");
        List<Object> args = new ArrayList<>(List.of(lastSeq, lastSeq));
        if (ch.state() != null) {
            // A state that holds the app and environment keeps whatever slot the rollout has (it gets one only at
            // submit or startQueued); any other state frees it.
            sql.append(", state = ?").append(Outcomes.HOLDING.contains(ch.state()) ? "" : ", active_slot = NULL");
            args.add(Outcomes.key(ch.state()));
        }
        if (ch.startedMs() > 0) {
            sql.append(", started_ms = ?");
            args.add(ch.startedMs());
        }
        if (ch.endedMs() > 0) {
            sql.append(", ended_ms = ?");
            args.add(ch.endedMs());
        }
        if (ch.stopped() != null) {
            sql.append(", stopped = ?");
            args.add(ch.stopped());
        }
        if (ch.report() != null) {
            sql.append(", report = ?");
            args.add(ch.report().toByteArray());
        }
        if (ch.clearRequest()) {
            sql.append(", request = NULL, request_by = NULL");
        }
        sql.append(" WHERE id = ? AND lease_epoch = ? AND lease_owner = ?");
        args.add(ch.lease().rolloutId());
        args.add(ch.lease().epoch());
        args.add(ch.lease().owner());
        try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
            RecordReader.bind(ps, args.toArray());
            if (ps.executeUpdate() == 0) {
                return false;
            }
        }
        for (RolloutEvent e : ch.events()) {
            insertEvent(c, e);
            if (e.hasNodeStarted()) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE rollout_nodes SET outcome = 'running',"
                        + " started_ms = ?, wave = ? WHERE rollout_id = ? AND node = ?")) {
                    RecordReader.bind(ps, e.getAtUnixMs(), e.getNodeStarted().getWave(), e.getRolloutId(),
                            e.getNodeStarted().getNode());
                    ps.executeUpdate();
                }
            } else if (e.hasNodeFinished()) {
                nodeEnded(c, e.getRolloutId(), e.getAtUnixMs(), e.getNodeFinished());
            }
        }
        if (ch.report() != null) { // the final report settles the nodes never started: no event ended them
            for (NodeReport n : ch.report().getNodesList()) {
                if (n.getOutcome() == NodeOutcome.NODE_SKIPPED) {
                    nodeEnded(c, ch.lease().rolloutId(), 0, n);
                }
            }
        }
        return true;
    }

    private static void nodeEnded(Connection c, long id, long at, NodeReport n) throws SQLException {
        long[] phases = new long[8];
        for (PhaseTiming p : n.getReport().getPhasesList()) {
            if (p.getPhaseValue() > 0 && p.getPhaseValue() < phases.length) {
                phases[p.getPhaseValue()] += p.getMillis();
            }
        }
        Outcomes.Transfer t = Outcomes.transfer(n);
        try (PreparedStatement ps = c.prepareStatement("UPDATE rollout_nodes SET outcome = ?, started_ms = ?, ended_ms = ?,"
                + " millis = ?, verify_ms = ?, plan_ms = ?, fetch_ms = ?, install_ms = ?, switch_ms = ?, hook_ms = ?,"
                + " health_ms = ?, bytes_fetched = ?, artifacts_fetched = ?, artifacts_from_store = ?, release_id = ?,"
                + " reason = ?, error = ?, reconciled = ?, report = ?, wave = ? WHERE rollout_id = ? AND node = ?")) {
            RecordReader.bind(ps, Outcomes.key(n.getOutcome()), n.getStartedUnixMs(), at, n.getMillis(), phases[1],
                    phases[2], phases[3], phases[4], phases[5], phases[6], phases[7], t.bytes(), t.fetched(), t.fromStore(),
                    n.getReport().getRelease(), Outcomes.reason(n), n.getError(), n.getReconciled() ? 1 : 0,
                    n.toByteArray(), n.getWave(), id, n.getNode());
            ps.executeUpdate();
        }
    }

    private static void insertEvent(Connection c, RolloutEvent e) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rollout_events (rollout_id, seq, epoch, at_ms, kind,"
                + " node, body) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
            String node = e.hasNodeStarted() ? e.getNodeStarted().getNode() : e.hasNodeFinished()
                    ? e.getNodeFinished().getNode() : e.hasNode() ? e.getNode().getNode() : "";
            RecordReader.bind(ps, e.getRolloutId(), e.getSeq(), e.getEpoch(), e.getAtUnixMs(),
                    e.getEventCase().name().toLowerCase(Locale.ROOT), node, e.toByteArray());
            ps.executeUpdate();
        }
    }

    private static void insertAudit(Connection c, String operator, String action, long id, String detail, long now)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO audit (at_ms, operator, action, rollout_id, detail) VALUES (?, ?, ?, ?, ?)")) {
            RecordReader.bind(ps, now, operator, action, id, detail);
            ps.executeUpdate();
        }
    }

    @Override
    public Optional<Lease> takeOver(long id, long expectedEpoch, String owner, long now, long leaseMs) {
        return db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE rollouts SET lease_owner = ?, lease_epoch = ?,"
                    + " lease_expires_ms = ? WHERE id = ? AND lease_epoch = ?")) {
                RecordReader.bind(ps, owner, expectedEpoch + 1, now + leaseMs, id, expectedEpoch);
                return ps.executeUpdate() == 1 ? Optional.of(new Lease(id, owner, expectedEpoch + 1)) : Optional.<Lease>empty();
            }
        }, "cannot take over rollout " + id);
    }

    @Override
    public boolean renew(Lease l, long now, long leaseMs) {
        return update("UPDATE rollouts SET lease_expires_ms = ? WHERE id = ? AND lease_epoch = ? AND lease_owner = ?",
                "cannot renew the lease of rollout " + l.rolloutId(), now + leaseMs, l.rolloutId(), l.epoch(), l.owner()) == 1;
    }

    @Override
    public void release(Lease l) {
        update("UPDATE rollouts SET lease_owner = NULL, lease_expires_ms = 0 WHERE id = ? AND lease_epoch = ?"
                + " AND lease_owner = ?", "cannot release the lease of rollout " + l.rolloutId(), l.rolloutId(), l.epoch(),
                l.owner());
    }

    @Override
    public Leader lead(String owner, String address, long leaseMs, long goneEpoch) {
        String now = db.dialect().nowMs();
        return db.inTransaction(c -> {
            // The epoch moves only when the holder changes; the expiry is set and compared on the database's clock.
            try (PreparedStatement ps = c.prepareStatement("UPDATE controller_leader SET epoch = CASE WHEN owner = ?"
                    + " THEN epoch ELSE epoch + 1 END, owner = ?, address = ?, expires_ms = " + now + " + ?"
                    + " WHERE name = 'rollouts' AND (owner = ? OR owner IS NULL OR expires_ms < " + now
                    + " OR epoch = ?)")) {
                RecordReader.bind(ps, owner, owner, address, leaseMs, owner, goneEpoch);
                ps.executeUpdate();
            }
            return leader(c);
        }, "cannot take or renew the controllers' leadership lease");
    }

    @Override
    public Leader leader() {
        return db.inTransaction(this::leader, "cannot read the controllers' leadership lease");
    }

    private Leader leader(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT owner, address, epoch, expires_ms - "
                + db.dialect().nowMs() + " FROM controller_leader WHERE name = 'rollouts'");
                ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                throw new SQLException("the table controller_leader has no row 'rollouts'");
            }
            String owner = rs.getString(1);
            return new Leader(owner == null ? "" : owner, rs.getString(2), rs.getLong(3), rs.getLong(4));
        }
    }

    @Override
    public void resign(String owner) {
        update("UPDATE controller_leader SET owner = NULL, expires_ms = 0 WHERE name = 'rollouts' AND owner = ?",
                "cannot give up the controllers' leadership lease", owner);
    }

    @Override
    public boolean request(long id, String request, String operator) {
        return update("UPDATE rollouts SET request = ?, request_by = ? WHERE id = ? AND state IN (" + ACTIVE + ")",
                "cannot record the " + request + " of rollout " + id, request, operator, id) == 1;
    }

    @Override
    public void audit(String operator, String action, long id, String detail, long now) {
        db.inTransaction(c -> {
            insertAudit(c, operator, action, id, detail, now);
            return null;
        }, "cannot record the audit entry");
    }

    private int update(String sql, String what, Object... args) {
        return db.inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                RecordReader.bind(ps, args);
                return ps.executeUpdate();
            }
        }, what);
    }

    @Override
    public Optional<RolloutRecord> record(long id) {
        return Optional.ofNullable(db.inTransaction(c -> read.record(c, id), "cannot read rollout " + id));
    }

    @Override
    public List<RolloutEvent> events(long id, long afterSeq, int limit) {
        return db.inTransaction(c -> read.events(c, id, afterSeq, limit), "cannot read the events of rollout " + id);
    }

    @Override
    public List<NodeRecord> nodes(long id) {
        return db.inTransaction(c -> read.nodes(c, id), "cannot read the nodes of rollout " + id);
    }

    @Override
    public List<RolloutSummary> history(String app, Set<RolloutState> states, int limit) {
        return db.inTransaction(c -> read.history(c, app, states, limit), "cannot read the history");
    }

    @Override
    public List<RolloutRecord> unfinished() {
        return db.inTransaction(c -> read.records(c, "WHERE state IN (" + ACTIVE + ") ORDER BY id"),
                "cannot read the active rollouts");
    }

    @Override
    public List<OperatorAction> audit(long rolloutId, int limit) {
        return db.inTransaction(c -> read.audit(c, rolloutId, limit), "cannot read the audit log");
    }

    @Override
    public IssuedSerial issueSerial(String app, long whenUnknown, long now) {
        return db.inTransaction(c -> {
            long known = Math.max(single(c, "SELECT MAX(serial) FROM rollouts WHERE app = ?", app),
                    single(c, "SELECT serial FROM app_serials WHERE app = ?", app));
            long next = known > 0 ? known + 1 : Math.max(1, whenUnknown);
            // The row's own serial + 1 wins when another controller issued one since we looked (its row lock orders us).
            upsertSerial(c, app, next, now, "CASE WHEN app_serials.serial + 1 > excluded.serial"
                    + " THEN app_serials.serial + 1 ELSE excluded.serial END");
            return new IssuedSerial(single(c, "SELECT serial FROM app_serials WHERE app = ?", app), known);
        }, "cannot issue a serial for app " + app);
    }

    @Override
    public void sawSerial(String app, long serial, long now) {
        db.inTransaction(c -> {
            upsertSerial(c, app, serial, now, "CASE WHEN excluded.serial > app_serials.serial"
                    + " THEN excluded.serial ELSE app_serials.serial END");
            return null;
        }, "cannot record serial " + serial + " of app " + app);
    }

    /** Inserts the app's serial, or sets it to {@code onConflict} (SQL over app_serials and excluded). */
    private static void upsertSerial(Connection c, String app, long serial, long now, String onConflict)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO app_serials (app, serial, updated_ms) VALUES (?, ?, ?)"
                + " ON CONFLICT (app) DO UPDATE SET serial = " + onConflict + ", updated_ms = excluded.updated_ms")) {
            RecordReader.bind(ps, app, serial, now);
            ps.executeUpdate();
        }
    }

    /** The first column of the first row {@code sql} selects, as a number; 0 when none or NULL. */
    private static long single(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            RecordReader.bind(ps, args);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    @Override
    public String where() {
        return db.url().display();
    }

    @Override
    public void close() {
        db.close();
    }
}

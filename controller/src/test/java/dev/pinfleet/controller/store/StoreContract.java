package dev.pinfleet.controller.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.pinfleet.controller.store.RolloutStore.Change;
import dev.pinfleet.controller.store.RolloutStore.Lease;
import dev.pinfleet.controller.store.RolloutStore.NewRollout;
import dev.pinfleet.controller.store.RolloutStore.RolloutRecord;
import dev.pinfleet.controller.store.RolloutStore.Submitted;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.NodeStarted;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.PhaseTiming;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.Signature;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Source;
import dev.pinfleet.proto.v1.StateChange;
import dev.pinfleet.proto.v1.Strategy;
import dev.pinfleet.proto.v1.Target;
import dev.pinfleet.proto.v1.Targets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What every {@link RolloutStore} must do, run against SQLite ({@link SqliteStoreTest}) and a real PostgreSQL
 * ({@link PostgresStoreTest}) alike.
 */
abstract class StoreContract {
    static final long NOW = Instant.parse("2026-12-01T10:00:00Z").toEpochMilli();
    static final long LEASE = 30_000;
    static final Clock CLOCK = Clock.fixed(Instant.ofEpochMilli(NOW + 60_000), ZoneOffset.UTC);

    RolloutStore store;

    /** A new, empty database of the kind under test (a fresh one for every test). */
    abstract DatabaseUrl newDatabase() throws Exception;

    @BeforeEach
    void open() throws Exception {
        store = new JdbcRolloutStore(Database.open(newDatabase(), CLOCK), CLOCK);
    }

    @AfterEach
    void close() {
        store.close();
    }

    static NewRollout rollout(String app, String env, String operator, String... nodes) {
        Targets.Builder t = Targets.newBuilder().setInventory("hosts.ini").setInventoryText("[web]\n" + String.join("\n", nodes))
                .setLimit("web*");
        for (String n : nodes) {
            t.addNodes(Target.newBuilder().setName(n).setHost("127.0.0.1").setPort(7400));
        }
        SignedManifest env1 = SignedManifest.newBuilder().setPayload(ByteString.copyFromUtf8("{\"app\":\"" + app + "\"}"))
                .setPayloadType("application/vnd.pinfleet.manifest+json")
                .addSignatures(Signature.newBuilder().setKeyid("ab".repeat(32)).setSig(ByteString.copyFrom(new byte[64])))
                .build();
        List<Integer> waves = new java.util.ArrayList<>();
        for (int i = 0; i < nodes.length; i++) {
            waves.add(i == 0 ? 0 : 1);
        }
        return new NewRollout(app, env, RolloutKind.ROLLOUT_DEPLOY, 7, "d".repeat(64), List.of("ab".repeat(32)), env1,
                t.build(), Strategy.newBuilder().setCanary(1).setBatch("100%").setMaxFailures("0").setForks(50).build(),
                operator, "ship it", "", waves);
    }

    static RolloutEvent event(Lease l, long seq, RolloutEvent.Builder b) {
        return b.setRolloutId(l.rolloutId()).setSeq(seq).setEpoch(l.epoch()).setAtUnixMs(NOW + seq).build();
    }

    static NodeReport nodeReport(String node, NodeOutcome o) {
        return NodeReport.newBuilder().setNode(node).setAddress("127.0.0.1:7400").setOutcome(o).setWave(0)
                .setStartedUnixMs(NOW + 2).setMillis(1500)
                .setReport(DeployReport.newBuilder().setRelease("r1").setManifestDigest("d".repeat(64))
                        .addPhases(PhaseTiming.newBuilder().setPhase(Phase.FETCH).setMillis(700))
                        .addArtifacts(ArtifactResult.newBuilder().setFilename("a.whl").setBytes(1234).setSource(Source.MIRROR))
                        .addArtifacts(ArtifactResult.newBuilder().setFilename("b.whl").setBytes(99).setSource(Source.STORE)))
                .build();
    }

    @Test
    void oneControllerAtATimeHoldsTheLeadershipLeaseOnTheDatabasesClock() {
        assertFalse(store.leader().held(), "nobody leads a new database");
        RolloutStore.Leader a = store.lead("host/1/1/a", "10.0.0.1:7300", LEASE, 0);
        assertTrue(a.heldBy("host/1/1/a"), a.toString());
        assertEquals("10.0.0.1:7300", a.address());
        assertTrue(a.expiresInMs() > LEASE - 10_000 && a.expiresInMs() <= LEASE, a.toString());

        RolloutStore.Leader refused = store.lead("host/2/1/b", "10.0.0.2:7300", LEASE, 0);
        assertTrue(refused.heldBy("host/1/1/a"), "a standby cannot take a lease that runs: " + refused);
        assertEquals(a.epoch(), store.lead("host/1/1/a", "10.0.0.1:7300", LEASE, 0).epoch(), "a renewal keeps the epoch");
        assertTrue(store.lead("host/2/1/b", "10.0.0.2:7300", LEASE, a.epoch() + 7).heldBy("host/1/1/a"),
                "'gone' names another epoch: not this holder");

        RolloutStore.Leader b = store.lead("host/2/1/b", "10.0.0.2:7300", LEASE, a.epoch());
        assertTrue(b.heldBy("host/2/1/b"), "the holder of the epoch named gone is replaced: " + b);
        assertEquals(a.epoch() + 1, b.epoch());
        assertEquals("10.0.0.2:7300", store.leader().address());
        assertTrue(store.lead("host/1/1/a", "10.0.0.1:7300", LEASE, 0).heldBy("host/2/1/b"), "the deposed cannot renew");

        store.resign("host/1/1/a");
        assertTrue(store.leader().heldBy("host/2/1/b"), "only the holder resigns");
        store.resign("host/2/1/b");
        assertFalse(store.leader().held());
        assertTrue(store.lead("host/3/1/c", "10.0.0.3:7300", -1_000, 0).owner().equals("host/3/1/c"));
        assertFalse(store.leader().held(), "a lease that ran out a second ago by the database's clock is held by nobody");
        RolloutStore.Leader d = store.lead("host/4/1/d", "10.0.0.4:7300", LEASE, 0);
        assertTrue(d.heldBy("host/4/1/d"), "a lease that ran out is free: " + d);
        assertEquals(b.epoch() + 2, d.epoch());
    }

    @Test
    void serialsAreIssuedAboveEveryOneIssuedRecordedOrSeen() {
        assertEquals(new RolloutStore.IssuedSerial(1_700_000_000L, 0), store.issueSerial("shop", 1_700_000_000L, NOW),
                "nothing known: the serial offered for that case");
        assertEquals(new RolloutStore.IssuedSerial(1_700_000_001L, 1_700_000_000L), store.issueSerial("shop", 5, NOW),
                "one above the last issued");
        store.sawSerial("shop", 1_900_000_000L, NOW);
        store.sawSerial("shop", 12, NOW); // a lower one seen later lowers nothing
        assertEquals(1_900_000_001L, store.issueSerial("shop", 5, NOW).serial(), "one above the highest an agent reported");
        store.submit(rollout("cart", "prod", "alice", "web1"), false, "c1", NOW, LEASE); // recorded with serial 7
        assertEquals(new RolloutStore.IssuedSerial(8, 7), store.issueSerial("cart", 1_700_000_000L, NOW),
                "one above the serial recorded in its rollout");
        assertEquals(9, store.issueSerial("cart", 1_700_000_000L, NOW).serial());
        assertEquals(1_900_000_002L, store.issueSerial("shop", 5, NOW).serial(), "apps are counted apart");
    }

    @Test
    void aSubmissionRecordsTheEnvelopeTargetsNodesFirstEventAndAnAuditEntry() {
        NewRollout r = rollout("shop", "", "alice", "web1", "web2", "web3");
        Submitted s = store.submit(r, false, "me", NOW, LEASE);
        RolloutSummary sum = s.rollout();
        assertTrue(sum.getId() > 0);
        assertEquals(RolloutState.ROLLOUT_RUNNING, sum.getOutcome());
        assertEquals("alice", sum.getOperator());
        assertEquals("ship it", sum.getMessage());
        assertEquals(List.of("ab".repeat(32)), sum.getKeyIdsList());
        assertEquals(Map.of("pending", 3), sum.getNodesMap());
        assertEquals(NOW, sum.getStarted().getSeconds() * 1000 + sum.getStarted().getNanos() / 1_000_000);
        assertEquals(new Lease(sum.getId(), "me", 1), s.lease());

        RolloutRecord rec = store.record(sum.getId()).orElseThrow();
        assertArrayEquals(r.envelope().toByteArray(), rec.envelope().toByteArray(), "the envelope exactly as signed");
        assertEquals(r.targets(), rec.targets());
        assertEquals(r.strategy(), rec.strategy());
        assertEquals("me", rec.leaseOwner());
        assertEquals(1, rec.lastSeq());
        assertEquals(List.of(0, 1, 1), store.nodes(sum.getId()).stream().map(RolloutStore.NodeRecord::wave).toList());
        List<RolloutEvent> events = store.events(sum.getId(), 0, 100);
        assertEquals(1, events.size());
        assertEquals(RolloutState.ROLLOUT_RUNNING, events.get(0).getState().getTo());
        assertEquals("alice", events.get(0).getState().getBy());
        assertEquals("deploy", store.audit(0, 10).get(0).getAction());
        assertTrue(store.audit(sum.getId(), 10).get(0).getDetail().contains("shop serial 7"));
    }

    @Test
    void oneRolloutPerAppAndEnvironmentAQueuedOneStartsWhenTheFirstEnds() {
        Submitted first = store.submit(rollout("shop", "prod", "alice", "web1"), false, "me", NOW, LEASE);
        RolloutStore.ActiveRolloutException refused = assertThrows(RolloutStore.ActiveRolloutException.class,
                () -> store.submit(rollout("shop", "prod", "bob", "web2"), false, "me", NOW, LEASE));
        assertEquals(first.rollout().getId(), refused.active().getId());
        assertEquals("alice", refused.active().getOperator());
        // another environment, another app: free
        store.submit(rollout("shop", "staging", "bob", "web2"), false, "me", NOW, LEASE);
        store.submit(rollout("blog", "prod", "bob", "web2"), false, "me", NOW, LEASE);

        Submitted queued = store.submit(rollout("shop", "prod", "bob", "web2"), true, "me", NOW, LEASE);
        assertEquals(RolloutState.ROLLOUT_QUEUED, queued.rollout().getOutcome());
        assertEquals(first.rollout().getId(), queued.queuedBehind().getId());
        assertFalse(queued.rollout().hasStarted());
        assertEquals("queue", store.audit(queued.rollout().getId(), 1).get(0).getAction());
        // A third one, not queued, is refused while the queue is not empty, even between the two.
        RolloutEvent go = event(queued.lease(), 2, RolloutEvent.newBuilder().setState(StateChange.newBuilder()
                .setTo(RolloutState.ROLLOUT_RUNNING).setReason("started")));
        assertFalse(store.startQueued(queued.lease(), go, NOW + 5), "the first still holds shop/prod");

        end(first.lease(), 2, RolloutState.ROLLOUT_SUCCEEDED);
        assertThrows(RolloutStore.ActiveRolloutException.class,
                () -> store.submit(rollout("shop", "prod", "carol", "web3"), false, "me", NOW, LEASE),
                "the queued one goes first");
        assertTrue(store.startQueued(queued.lease(), go, NOW + 5));
        RolloutRecord q = store.record(queued.rollout().getId()).orElseThrow();
        assertEquals(RolloutState.ROLLOUT_RUNNING, q.state());
        assertTrue(q.summary().hasStarted());
        assertEquals(2, q.lastSeq());
    }

    private void end(Lease l, long seq, RolloutState s) {
        FleetReport report = FleetReport.newBuilder().setDeployId(Long.toString(l.rolloutId())).setApp("shop").build();
        List<Boolean> ok = store.apply(List.of(new Change(l, List.of(event(l, seq, RolloutEvent.newBuilder()
                .setFinished(report))), s, 0, NOW + 10, "", report, false)));
        assertEquals(List.of(true), ok);
    }

    @Test
    void aControllerThatLostTheLeaseCannotWriteAnyMore() {
        Submitted s = store.submit(rollout("shop", "", "alice", "web1"), false, "old", NOW, LEASE);
        Lease old = s.lease();
        Lease fresh = store.takeOver(old.rolloutId(), old.epoch(), "new", NOW + 1, LEASE).orElseThrow();
        assertEquals(2, fresh.epoch());
        assertTrue(store.takeOver(old.rolloutId(), old.epoch(), "third", NOW + 1, LEASE).isEmpty(),
                "a takeover needs the epoch it saw");
        RolloutEvent late = event(old, 2, RolloutEvent.newBuilder().setNote("late write"));
        RolloutEvent mine = event(fresh, 2, RolloutEvent.newBuilder().setNote("resumed"));
        assertEquals(List.of(false, true), store.apply(List.of(Change.events(old, List.of(late)),
                Change.events(fresh, List.of(mine)))));
        List<RolloutEvent> events = store.events(old.rolloutId(), 1, 10);
        assertEquals(List.of("resumed"), events.stream().map(RolloutEvent::getNote).toList());
        assertEquals(2, events.get(0).getEpoch());
        assertFalse(store.renew(old, NOW + 2, LEASE));
        assertTrue(store.renew(fresh, NOW + 2, LEASE));
        store.release(fresh);
        assertEquals("", store.record(old.rolloutId()).orElseThrow().leaseOwner());
    }

    @Test
    void nodeEventsKeepEachNodesRowAndTheSummaryCountsCurrent() {
        Submitted s = store.submit(rollout("shop", "", "alice", "web1", "web2"), false, "me", NOW, LEASE);
        Lease l = s.lease();
        store.apply(List.of(Change.events(l, List.of(event(l, 2, RolloutEvent.newBuilder().setNodeStarted(
                NodeStarted.newBuilder().setNode("web1").setWave(0).setAddress("127.0.0.1:7400")))))));
        assertEquals(Map.of("pending", 1, "running", 1), store.record(l.rolloutId()).orElseThrow().summary().getNodesMap());
        NodeReport done = nodeReport("web1", NodeOutcome.NODE_OK);
        store.apply(List.of(Change.events(l, List.of(event(l, 3, RolloutEvent.newBuilder().setNodeFinished(done))))));
        List<RolloutStore.NodeRecord> nodes = store.nodes(l.rolloutId());
        assertEquals("ok", nodes.get(0).outcome());
        assertEquals(done, nodes.get(0).report());
        assertEquals("pending", nodes.get(1).outcome());
        assertNull(nodes.get(1).report());
        assertEquals(Map.of("pending", 1, "ok", 1), store.record(l.rolloutId()).orElseThrow().summary().getNodesMap());
        assertEquals(3, store.events(l.rolloutId(), 0, 100).size());
        assertEquals(List.of(3L), store.events(l.rolloutId(), 2, 100).stream().map(RolloutEvent::getSeq).toList());
    }

    @Test
    void theFinalReportSettlesTheNodesNeverStartedAsSkipped() {
        Submitted s = store.submit(rollout("shop", "", "alice", "web1", "web2"), false, "me", NOW, LEASE);
        Lease l = s.lease();
        NodeReport cancelled = nodeReport("web1", NodeOutcome.NODE_CANCELLED);
        store.apply(List.of(Change.events(l, List.of(event(l, 2, RolloutEvent.newBuilder().setNodeFinished(cancelled))))));
        NodeReport skipped = NodeReport.newBuilder().setNode("web2").setAddress("127.0.0.1:7400").setWave(1)
                .setOutcome(NodeOutcome.NODE_SKIPPED).setError("web2: not started: cancelled by bob").build();
        FleetReport report = FleetReport.newBuilder().setDeployId(Long.toString(l.rolloutId())).setApp("shop")
                .addNodes(cancelled).addNodes(skipped).build();
        store.apply(List.of(new Change(l, List.of(event(l, 3, RolloutEvent.newBuilder().setFinished(report))),
                RolloutState.ROLLOUT_CANCELLED, 0, NOW + 10, "cancelled by bob", report, false)));
        assertEquals(Map.of("cancelled", 1, "skipped", 1), store.record(l.rolloutId()).orElseThrow().summary().getNodesMap());
        RolloutStore.NodeRecord web2 = store.nodes(l.rolloutId()).get(1);
        assertEquals("skipped", web2.outcome());
        assertEquals(skipped, web2.report());
    }

    @Test
    void historyIsNewestFirstFilteredByAppAndStateAndTheFinalReportStays() {
        Submitted a = store.submit(rollout("shop", "", "alice", "web1"), false, "me", NOW, LEASE);
        end(a.lease(), 2, RolloutState.ROLLOUT_FAILED);
        Submitted b = store.submit(rollout("shop", "", "bob", "web1"), false, "me", NOW, LEASE);
        Submitted c = store.submit(rollout("blog", "", "carol", "web1"), false, "me", NOW, LEASE);
        assertEquals(List.of(c.rollout().getId(), b.rollout().getId(), a.rollout().getId()),
                store.history(null, Set.of(), 10).stream().map(RolloutSummary::getId).toList());
        assertEquals(List.of(b.rollout().getId(), a.rollout().getId()),
                store.history("shop", Set.of(), 10).stream().map(RolloutSummary::getId).toList());
        assertEquals(List.of(b.rollout().getId()), store.history("shop", Set.of(), 1).stream().map(RolloutSummary::getId).toList());
        assertEquals(List.of(a.rollout().getId()), store.history(null, Set.of(RolloutState.ROLLOUT_FAILED), 10).stream()
                .map(RolloutSummary::getId).toList());
        RolloutRecord ended = store.record(a.rollout().getId()).orElseThrow();
        assertEquals(RolloutState.ROLLOUT_FAILED, ended.state());
        assertEquals(Long.toString(a.rollout().getId()), ended.report().getDeployId());
        assertEquals(10, ended.summary().getDurationMs());
        assertEquals(List.of(b.rollout().getId(), c.rollout().getId()),
                store.unfinished().stream().map(RolloutRecord::id).toList());
        // a duration of an active rollout runs to the store's clock
        assertEquals(60_000, store.record(b.rollout().getId()).orElseThrow().summary().getDurationMs());
    }

    @Test
    void operatorRequestsWaitForTheLeaseHolderUntilHandled() {
        Submitted s = store.submit(rollout("shop", "", "alice", "web1"), false, "me", NOW, LEASE);
        assertTrue(store.request(s.rollout().getId(), "cancel", "bob"));
        RolloutRecord r = store.record(s.rollout().getId()).orElseThrow();
        assertEquals("cancel", r.request());
        assertEquals("bob", r.requestBy());
        Lease l = s.lease();
        store.apply(List.of(new Change(l, List.of(event(l, 2, RolloutEvent.newBuilder().setState(StateChange.newBuilder()
                .setTo(RolloutState.ROLLOUT_CANCELLING).setBy("bob")))), RolloutState.ROLLOUT_CANCELLING, 0, 0,
                "cancelled by bob", null, true)));
        r = store.record(s.rollout().getId()).orElseThrow();
        assertEquals("", r.request());
        assertEquals(RolloutState.ROLLOUT_CANCELLING, r.state());
        assertEquals("cancelled by bob", r.summary().getStopped());
        end(l, 3, RolloutState.ROLLOUT_CANCELLED);
        assertFalse(store.request(s.rollout().getId(), "cancel", "bob"), "an ended rollout takes no request");
    }

    @Test
    void reopeningKeepsTheRecordsAndANewerSchemaIsRefused() throws Exception {
        DatabaseUrl url = newDatabase();
        try (RolloutStore s = new JdbcRolloutStore(Database.open(url, CLOCK), CLOCK)) {
            s.submit(rollout("shop", "", "alice", "web1"), false, "me", NOW, LEASE);
        }
        try (Database db = Database.open(url, CLOCK)) {
            assertEquals(Database.SCHEMA_VERSION, db.schemaVersion());
            db.inTransaction(c -> {
                try (var st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO flyway_schema_history (installed_rank, version, description, type,"
                            + " script, checksum, installed_by, execution_time, success) VALUES (99, '99', 'from the"
                            + " future', 'SQL', 'V99__from_the_future.sql', 0, 'pf', 1, " + (db.dialect() == Dialect.SQLITE
                            ? "1" : "true") + ")");
                }
                return null;
            }, "test");
        }
        StoreException e = assertThrows(StoreException.class, () -> Database.open(url, CLOCK));
        assertTrue(e.getMessage().contains("was written by a newer pinfleet (schema version 99 'from the future';"
                + " this pinfleet knows up to " + Database.SCHEMA_VERSION + ")"), e.getMessage());
        assertTrue(e.getMessage().startsWith("database " + url.display()), e.getMessage());
    }
}

package dev.pinfleet.controller.service;

import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.RolloutStore.NodeRecord;
import dev.pinfleet.controller.store.RolloutStore.RolloutRecord;
import dev.pinfleet.proto.v1.AuditRequest;
import dev.pinfleet.proto.v1.AuditResponse;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.HistoryResponse;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.ShowResponse;
import java.util.EnumSet;
import java.util.List;

/** What {@code show}, {@code history} and {@code audit} read: views of the records, never kept apart from them. */
final class RecordViews {
    /** Rollouts listed when the request does not say. */
    static final int DEFAULT_HISTORY = 20;
    /** Audit entries listed when the request does not say. */
    static final int DEFAULT_AUDIT = 50;
    /** Most rows one request returns. */
    static final int MAX_ROWS = 10_000;

    private RecordViews() {}

    static ShowResponse show(RolloutStore store, long id, boolean summaryOnly) {
        RolloutRecord r = store.record(id).orElseThrow(() -> ControllerException.notFound(id));
        if (summaryOnly) {
            return ShowResponse.newBuilder().setRollout(r.summary()).build();
        }
        FleetReport report = r.report();
        if (report == null) {
            FleetReport.Builder b = FleetReport.newBuilder().setDeployId(Long.toString(id)).setApp(r.summary().getApp())
                    .setSerial(r.summary().getSerial()).setManifestDigest(r.summary().getDigest())
                    .setOperator(r.summary().getOperator()).setStrategy(r.strategy()).setStopped(r.summary().getStopped())
                    .setInventory(r.targets().getInventory()).setLimit(r.targets().getLimit())
                    .setMessage(r.summary().getMessage()).setRetryOf(r.summary().getRetryOf());
            if (r.summary().hasStarted()) {
                b.setStarted(r.summary().getStarted());
            }
            for (NodeRecord n : store.nodes(id)) {
                b.addNodes(n.report() != null ? n.report() : NodeReport.newBuilder().setNode(n.node())
                        .setAddress(n.address()).setWave(n.wave()).setStartedUnixMs(n.startedMs())
                        .setError(n.outcome().equals(Outcomes.RUNNING) ? "in flight" : "pending").build());
            }
            report = b.build();
        }
        ShowResponse.Builder out = ShowResponse.newBuilder().setRollout(r.summary()).setTargets(r.targets())
                .setStrategy(r.strategy()).setManifest(r.envelope()).setReport(report);
        long after = 0;
        List<RolloutEvent> page;
        do {
            page = store.events(id, after, EventFeed.PAGE);
            out.addAllEvents(page);
            after = page.isEmpty() ? after : page.get(page.size() - 1).getSeq();
        } while (page.size() == EventFeed.PAGE);
        return out.build();
    }

    static HistoryResponse history(RolloutStore store, HistoryRequest req) {
        int limit = req.getLimit() > 0 ? Math.min(req.getLimit(), MAX_ROWS) : DEFAULT_HISTORY;
        var states = req.getStatesList().isEmpty() ? EnumSet.noneOf(dev.pinfleet.proto.v1.RolloutState.class)
                : EnumSet.copyOf(req.getStatesList());
        return HistoryResponse.newBuilder().addAllRollouts(store.history(req.getApp(), states, limit)).build();
    }

    static AuditResponse audit(RolloutStore store, AuditRequest req) {
        int limit = req.getLimit() > 0 ? Math.min(req.getLimit(), MAX_ROWS) : DEFAULT_AUDIT;
        return AuditResponse.newBuilder().addAllEntries(store.audit(req.getRolloutId(), limit)).build();
    }
}

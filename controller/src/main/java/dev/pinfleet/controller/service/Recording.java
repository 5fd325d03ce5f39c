package dev.pinfleet.controller.service;

import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.rollout.Rollout;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.StoreException;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeEvent;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.NodeStarted;
import dev.pinfleet.proto.v1.RolloutEvent;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.StateChange;
import dev.pinfleet.proto.v1.WaveStarted;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.logging.Logger;

/**
 * A rollout's events as they happen, into its record: each gets the next position and the lease's epoch. What a
 * crash between event and action would make ambiguous (a wave or node starting, a node ending, a stop, a state
 * change) is recorded before the rollout acts on it; phase changes and check results are recorded without waiting;
 * agent progress and per-artifact results go to live watchers only (the node's report keeps the results).
 */
final class Recording implements Rollout.Listener {
    private static final Logger LOG = Logger.getLogger(Recording.class.getName());

    /** This controller no longer holds the rollout's lease: another one took it over. */
    static final class LeaseLostException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LeaseLostException(long id) {
            super("rollout " + id + ": this controller lost its lease (another controller took the rollout over)");
        }
    }

    private final RolloutStore.Lease lease;
    private final Recorder recorder;
    private final EventFeed feed;
    private final Clock clock;
    private long seq;

    Recording(RolloutStore.Lease lease, long lastSeq, Recorder recorder, EventFeed feed, Clock clock) {
        this.lease = lease;
        this.seq = lastSeq;
        this.recorder = recorder;
        this.feed = feed;
        this.clock = clock;
    }

    RolloutStore.Lease lease() {
        return lease;
    }

    private RolloutEvent stamp(RolloutEvent.Builder b) {
        return b.setRolloutId(lease.rolloutId()).setSeq(++seq).setEpoch(lease.epoch()).setAtUnixMs(clock.millis()).build();
    }

    /**
     * Records {@code events} and, when {@code state} is not null, the state change that goes with them (see {@link
     * RolloutStore.Change}); with {@code wait}, returns only once recorded.
     */
    void record(List<RolloutEvent.Builder> events, RolloutState state, long startedMs, long endedMs, String stopped,
            FleetReport report, boolean clearRequest, boolean wait) {
        CompletableFuture<Boolean> f;
        synchronized (this) {
            List<RolloutEvent> stamped = new ArrayList<>();
            events.forEach(b -> stamped.add(stamp(b)));
            f = recorder.write(new RolloutStore.Change(lease, stamped, state, startedMs, endedMs, stopped, report,
                    clearRequest));
        }
        if (wait) {
            await(f);
        } else {
            f.whenComplete((ok, e) -> {
                if (e != null) {
                    LOG.warning("rollout " + lease.rolloutId() + ": an event was not recorded: " + e.getMessage());
                }
            });
        }
    }

    private void await(CompletableFuture<Boolean> f) {
        boolean ok;
        try {
            ok = f.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new StoreException(String.valueOf(e.getCause()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while recording rollout " + lease.rolloutId(), e);
        }
        if (!ok) {
            throw new LeaseLostException(lease.rolloutId());
        }
    }

    /** Records a state change (with its event) and waits for it. */
    void state(StateChange.Builder change, boolean clearRequest) {
        record(List.of(RolloutEvent.newBuilder().setState(change)), change.getTo(), 0, 0, null, null, clearRequest, true);
    }

    void note(String text) {
        record(List.of(RolloutEvent.newBuilder().setNote(text)), null, 0, 0, null, null, false, true);
    }

    @Override
    public void checked(int asked, List<NodeReport> unreachable, int failures, int budget) {
        if (unreachable.isEmpty()) {
            return;
        }
        note("asked " + asked + " node(s) before changing any: " + unreachable.size() + " unreachable ("
                + String.join(" ", unreachable.stream().limit(10).map(NodeReport::getNode).toList())
                + (unreachable.size() > 10 ? " …" : "") + "), not started on; failures " + failures + " of a budget of "
                + budget + (failures > budget ? ": spent, no node is started" : ""));
    }

    @Override
    public void waveStarted(int wave, int waves, List<Node> nodes) {
        record(List.of(RolloutEvent.newBuilder().setWave(WaveStarted.newBuilder().setWave(wave).setWaves(waves)
                .addAllNodes(nodes.stream().map(Node::name).toList()))), null, 0, 0, null, null, false, true);
    }

    @Override
    public void nodeStarted(Node node, int wave) {
        record(List.of(RolloutEvent.newBuilder().setNodeStarted(NodeStarted.newBuilder().setNode(node.name())
                .setAddress(node.address()).setWave(wave))), null, 0, 0, null, null, false, true);
    }

    @Override
    public void event(Node node, DeployEvent e) {
        if (e.hasReport()) {
            return; // the node's end carries it
        }
        RolloutEvent.Builder b = RolloutEvent.newBuilder().setNode(NodeEvent.newBuilder().setNode(node.name()).setEvent(e));
        if (e.hasProgress() || e.hasArtifact()) {
            feed.publish(b.setRolloutId(lease.rolloutId()).setEpoch(lease.epoch()).setAtUnixMs(clock.millis()).build());
        } else {
            record(List.of(b), null, 0, 0, null, null, false, false);
        }
    }

    @Override
    public void nodeFinished(NodeReport report) {
        record(List.of(RolloutEvent.newBuilder().setNodeFinished(report)), null, 0, 0, null, null, false, true);
    }

    @Override
    public void cancelAnswered(Node node, String answer) {
        record(List.of(RolloutEvent.newBuilder().setNote(answer)), null, 0, 0, null, null, false, false);
    }

    @Override
    public void stopped(String why) {
        record(List.of(RolloutEvent.newBuilder().setStopped(why)), null, 0, 0, why, null, false, true);
    }
}

package dev.pinfleet.controller.rollout;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.SignedManifest;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Rolls a signed manifest out to the targeted nodes by {@link Strategy}: the canary wave, then batches, at most
 * {@code forks} nodes at once, with one failure budget for the whole fleet. Once the budget is spent (or the rollout
 * is {@link #stop stopped}) no new node starts, nodes in flight finish, and the nodes never started are reported
 * {@code NODE_SKIPPED}. Before any node changes, every node to start on is asked whether it answers ({@link StartCheck}):
 * the unreachable ones end at once and spend the budget then, so a budget they exhaust starts no node at all;
 * {@link #cancel} also asks the agents of the nodes in flight to stop their deploys before they
 * switch (those end {@code NODE_CANCELLED}). A resumed rollout passes the nodes that already ended: they are not started again, and their
 * failures count against the budget. One instance runs one rollout.
 */
public final class Rollout {
    /** Sees the rollout as it happens (called from several threads); may throw to stop the rollout at once. */
    public interface Listener {
        default void started(int nodes, long bytesPerNode) { }

        /**
         * Called once the nodes to start on were asked before any of them changed: {@code asked} nodes, of which
         * {@code unreachable} did not answer (each also ends by {@link #nodeFinished}), leaving {@code failures} of the
         * {@code budget}.
         */
        default void checked(int asked, List<NodeReport> unreachable, int failures, int budget) { }

        default void waveStarted(int wave, int waves, List<Node> nodes) { }

        /** Called before the node's agent is contacted. */
        default void nodeStarted(Node node, int wave) { }

        default void event(Node node, DeployEvent event) { }

        default void nodeFinished(NodeReport report) { }

        /** An agent's answer to a cancel of its node's deploy, in words naming the node (called on a gRPC thread). */
        default void cancelAnswered(Node node, String answer) { }

        default void stopped(String why) { }

        default void finished(FleetReport report) { }
    }

    /** Asked after the canary wave when the strategy pauses there; false stops the rollout. */
    @FunctionalInterface
    public interface Gate {
        boolean proceed(List<NodeReport> canary, int nodesLeft) throws InterruptedException;
    }

    /** How often stuck nodes are looked for, in milliseconds. */
    static final long WATCH_MILLIS = 200;

    private final Strategy strategy;
    private final AgentClient client;
    private final Clock clock;
    private final Set<NodeCall> active = ConcurrentHashMap.newKeySet();
    private volatile String stopRequested;
    private volatile String cancelRequested;

    public Rollout(Strategy strategy, AgentClient client, Clock clock) {
        this.strategy = strategy;
        this.client = client;
        this.clock = clock;
    }

    /** Starts no new node from now on ({@code why} becomes the report's {@code stopped}); nodes in flight finish. */
    public void stop(String why) {
        if (stopRequested == null) {
            stopRequested = why;
        }
    }

    /**
     * Cancel: {@link #stop} with {@code why}, and every deploy in flight (now, or started in the race with this call)
     * is asked to stop on its agent, with {@code why} as the reason its agent records.
     */
    public void cancel(String why) {
        stop(why);
        if (cancelRequested == null) {
            cancelRequested = why;
        }
        active.forEach(c -> c.cancel(cancelRequested));
    }

    /** Nodes in flight now. */
    public List<Node> inFlight() {
        return active.stream().map(NodeCall::node).toList();
    }

    public FleetReport run(String deployId, String operator, SignedManifest envelope, Manifest m, String digest,
            List<Node> nodes, Listener listener, Gate gate) throws InterruptedException {
        return run(deployId, operator, envelope, m, digest, nodes, Map.of(), listener, gate);
    }

    /**
     * Runs the rollout; {@code done} holds the reports of nodes that already ended (a resumed rollout), which are
     * kept as they are.
     */
    public FleetReport run(String deployId, String operator, SignedManifest envelope, Manifest m, String digest,
            List<Node> nodes, Map<String, NodeReport> done, Listener listener, Gate gate) throws InterruptedException {
        int budget = strategy.budget(nodes.size());
        FleetReport.Builder report = FleetReport.newBuilder().setDeployId(deployId).setApp(m.getApp())
                .setSerial(m.getSerial()).setManifestDigest(digest).setOperator(operator)
                .setStarted(Timestamps.fromMillis(clock.millis()))
                .setStrategy(strategy.toProto(budget));
        Map<String, NodeReport> results = new ConcurrentHashMap<>(done);
        AtomicInteger failures = new AtomicInteger((int) done.values().stream()
                .filter(r -> Outcomes.isFailure(r.getOutcome())).count());
        String stopped = null;
        long bytes = m.getArtifactsList().stream().mapToLong(a -> a.getSize()).sum();
        listener.started(nodes.size(), bytes);
        Map<String, Integer> waveOf = waveOf(nodes);
        List<Node> toAsk = nodes.stream().filter(n -> !results.containsKey(n.name())).toList();
        if (stopRequested == null && !toAsk.isEmpty()) {
            List<NodeReport> gone = StartCheck.unreachable(toAsk, client, strategy, m.getApp(), waveOf, clock);
            for (NodeReport r : gone) {
                failures.incrementAndGet();
                results.put(r.getNode(), r);
                listener.nodeFinished(r);
            }
            listener.checked(toAsk.size(), gone, failures.get(), budget);
        }
        ScheduledExecutorService watch = Executors.newSingleThreadScheduledExecutor(
                new DaemonThreads("rollout-watch-" + deployId));
        watch.scheduleAtFixedRate(() -> active.forEach(NodeCall::checkStuck), WATCH_MILLIS, WATCH_MILLIS,
                TimeUnit.MILLISECONDS);
        try {
            List<List<Node>> waves = strategy.waves(nodes);
            for (int w = 0; w < waves.size() && stopped == null; w++) {
                List<Node> wave = waves.get(w);
                List<Node> todo = wave.stream().filter(n -> !results.containsKey(n.name())).toList();
                if (!todo.isEmpty()) {
                    if (stopRequested != null || failures.get() > budget) {
                        stopped = stopRequested != null ? stopRequested : budgetSpent(failures.get(), budget);
                        listener.stopped(stopped);
                        break;
                    }
                    listener.waveStarted(w, waves.size(), todo);
                }
                Semaphore slots = new Semaphore(strategy.forks());
                List<CompletableFuture<NodeReport>> running = new ArrayList<>();
                for (Node n : todo) {
                    slots.acquire();
                    if (stopRequested != null || failures.get() > budget) {
                        slots.release();
                        stopped = stopRequested != null ? stopRequested : budgetSpent(failures.get(), budget);
                        break;
                    }
                    listener.nodeStarted(n, w);
                    NodeCall call = new NodeCall(n, w, client, clock, strategy.nodeDeadline(), strategy.stuckTimeout(),
                            listener::event, listener::cancelAnswered);
                    active.add(call);
                    CompletableFuture<NodeReport> ended = call.start(deployId, envelope);
                    if (cancelRequested != null) { // cancelled after this node was let through: it stops too
                        call.cancel(cancelRequested);
                    }
                    running.add(ended.whenComplete((r, t) -> {
                        active.remove(call);
                        try {
                            if (r != null) {
                                if (Outcomes.isFailure(r.getOutcome())) {
                                    failures.incrementAndGet();
                                }
                                results.put(n.name(), r);
                                listener.nodeFinished(r);
                            }
                        } finally {
                            slots.release();
                        }
                    }));
                }
                for (CompletableFuture<NodeReport> f : running) {
                    try {
                        f.get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        throw new IllegalStateException("node deploy crashed", e.getCause());
                    }
                }
                if (stopped == null && stopRequested != null && w + 1 < waves.size()) {
                    stopped = stopRequested;
                }
                if (stopped == null && failures.get() > budget && w + 1 < waves.size()) {
                    stopped = budgetSpent(failures.get(), budget);
                }
                if (stopped == null && w == 0 && !wave.isEmpty() && strategy.pauseAfterCanary() && waves.size() > 1) {
                    List<NodeReport> canary = wave.stream().map(n -> results.get(n.name())).toList();
                    if (!gate.proceed(canary, nodes.size() - wave.size())) {
                        stopped = stopRequested != null ? stopRequested : OPERATOR_STOPPED;
                    }
                }
                if (stopped != null) {
                    listener.stopped(stopped);
                }
            }
        } finally {
            watch.shutdownNow();
        }
        for (Node n : nodes) {
            NodeReport r = results.get(n.name());
            report.addNodes(r != null ? r : NodeReport.newBuilder().setNode(n.name()).setAddress(n.address())
                    .setOutcome(NodeOutcome.NODE_SKIPPED).setWave(waveOf.get(n.name()))
                    .setError(n.name() + ": not started: " + (stopped == null ? "rollout stopped" : stopped)).build());
        }
        report.setStopped(stopped == null ? "" : stopped);
        report.addAllInconsistencies(Consistency.check(m, digest, report.getNodesList()));
        FleetReport finished = report.setFinished(Timestamps.fromMillis(clock.millis())).build();
        listener.finished(finished);
        return finished;
    }

    /** Why a rollout stops when the operator says no at the pause after the canary. */
    public static final String OPERATOR_STOPPED = "the operator stopped the rollout after the canary";

    /** Each node's wave by name, computed once (not once per skipped node: 10,000 of those were quadratic). */
    private Map<String, Integer> waveOf(List<Node> nodes) {
        Map<String, Integer> out = new java.util.HashMap<>();
        List<List<Node>> waves = strategy.waves(nodes);
        for (int w = 0; w < waves.size(); w++) {
            for (Node n : waves.get(w)) {
                out.put(n.name(), w);
            }
        }
        return out;
    }

    private static String budgetSpent(int failures, int budget) {
        return "failure budget spent: " + failures + " node(s) failed, at most " + budget + " allowed";
    }

    /** Counts per outcome, in a stable order (for summaries). */
    public static Map<NodeOutcome, Integer> counts(FleetReport r) {
        Map<NodeOutcome, Integer> out = new LinkedHashMap<>();
        for (NodeReport n : r.getNodesList()) {
            out.merge(n.getOutcome(), 1, Integer::sum);
        }
        return out;
    }
}

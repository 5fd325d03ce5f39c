package dev.pinfleet.controller.service;

import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.controller.metrics.ControllerMetrics.ReleaseNodes;
import dev.pinfleet.controller.rollout.AgentClient;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import dev.pinfleet.proto.v1.Targets;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The served controller's view of what the fleet runs: every {@code interval} it asks every node its records know
 * (the targets of the {@link #RECENT_ROLLOUTS} newest rollouts at start, and of every rollout since; a node left out
 * of later inventories is asked until the controller restarts, and counts for nothing once it does not answer) for
 * its Status, and hands on the nodes per app by
 * release digest (the version spread, for {@code /metrics}); the serials the agents report become known to
 * NextSerial. Cheap at 10,000 nodes: asynchronous calls on gRPC's shared event loops, at most {@code inFlight} at
 * once (a node's channel is open only while it is asked), one thread for the whole poll, per node only its apps'
 * digests and serials kept until the poll ends.
 */
public final class StatusPoller implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(StatusPoller.class.getName());
    /** Rollouts read, newest first, to find the nodes of each app and environment. */
    static final int RECENT_ROLLOUTS = 500;
    /** Status calls in flight at once, at most (each holds one connection while it lasts). */
    public static final int IN_FLIGHT = 256;

    /**
     * @param interval how often to poll; zero: never (poll only when asked, {@link #pollOnce})
     * @param inFlight Status calls in flight at once, at most
     */
    public record Config(Duration interval, int inFlight) {
        public Config {
            if (interval.isNegative() || inFlight < 1) {
                throw new IllegalArgumentException("status poll: interval " + interval + " and " + inFlight
                        + " call(s) in flight: the interval must be 0 or more, the calls 1 or more");
            }
        }
    }

    /** One app on one node as its agent reported it. */
    private record Running(String digest, long serial) {}

    /** A node to ask, and how its rollout reaches it (its targets without the node list, shared by its nodes). */
    private record Asked(Node node, Targets targets) {}

    private final RolloutStore store;
    private final Agents agents;
    private final Clock clock;
    private final Config config;
    private final Consumer<List<ReleaseNodes>> sink;
    private final BooleanSupplier leads;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
            new DaemonThreads("status-poll"));
    /** Per app and environment, its nodes by name, the newest rollout naming a node giving its address. */
    private final Map<List<String>, Map<String, Asked>> slots = new LinkedHashMap<>();
    /** The highest rollout id whose targets are in {@link #slots}. */
    private long highestRead;

    public StatusPoller(RolloutStore store, Agents agents, Clock clock, Config config, Consumer<List<ReleaseNodes>> sink) {
        this(store, agents, clock, config, sink, () -> true);
    }

    /**
     * A poller that asks the agents only while {@code leads} (the active controller of an active and a standby):
     * one controller's polls are enough, and a standby hands on an empty spread, so that its version-spread series
     * are gone instead of stale.
     */
    public StatusPoller(RolloutStore store, Agents agents, Clock clock, Config config, Consumer<List<ReleaseNodes>> sink,
            BooleanSupplier leads) {
        this.leads = leads;
        this.store = store;
        this.agents = agents;
        this.clock = clock;
        this.config = config;
        this.sink = sink;
    }

    /** Polls now and then every interval (nothing when the interval is zero). */
    public StatusPoller start() {
        long ms = config.interval().toMillis();
        if (ms > 0) {
            timer.scheduleWithFixedDelay(this::safePoll, 0, ms, TimeUnit.MILLISECONDS);
        }
        return this;
    }

    private void safePoll() {
        try {
            if (!leads.getAsBoolean()) {
                sink.accept(List.of());
                return;
            }
            pollOnce();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warning("status poll: " + e.getMessage());
        }
    }

    /**
     * Reads the targets of the rollouts submitted since the last poll (at the first, of the {@link #RECENT_ROLLOUTS}
     * newest): a rollout's targets never change, so each is read once.
     */
    private void readNewTargets() {
        List<RolloutSummary> recent = new ArrayList<>(store.history(null, Set.of(), RECENT_ROLLOUTS));
        Collections.reverse(recent); // oldest first: a newer rollout's address of a node wins
        for (RolloutSummary s : recent) {
            if (s.getId() <= highestRead) {
                continue;
            }
            highestRead = s.getId();
            Targets t = store.record(s.getId()).map(RolloutStore.RolloutRecord::targets).orElse(null);
            if (t == null) {
                continue;
            }
            Targets how = t.toBuilder().clearNodes().build();
            Map<String, Asked> nodes = slots.computeIfAbsent(List.of(s.getApp(), s.getEnvironment()),
                    k -> new LinkedHashMap<>());
            for (Node n : Agents.nodes(t)) {
                nodes.put(n.name(), new Asked(n, how));
            }
        }
    }

    /** Asks every known node once and hands on what they run; returns it. */
    public synchronized List<ReleaseNodes> pollOnce() throws InterruptedException {
        readNewTargets();
        Map<String, Asked> unique = new LinkedHashMap<>();
        slots.values().forEach(nodes -> nodes.forEach((name, a) -> unique.merge(name + "@" + a.node().address(), a,
                (x, y) -> x)));
        Map<String, Map<String, Running>> answers = ask(unique);
        List<ReleaseNodes> spread = new ArrayList<>();
        Map<String, Long> serials = new TreeMap<>();
        slots.forEach((slot, nodes) -> {
            Map<String, Integer> byDigest = new TreeMap<>();
            nodes.forEach((name, a) -> {
                Running r = answers.getOrDefault(name + "@" + a.node().address(), Map.of()).get(slot.get(0));
                if (r != null && !r.digest().isEmpty()) {
                    byDigest.merge(r.digest(), 1, Integer::sum);
                }
            });
            byDigest.forEach((digest, n) -> spread.add(new ReleaseNodes(slot.get(0), slot.get(1), digest, n)));
        });
        answers.values().forEach(apps -> apps.forEach((app, r) -> serials.merge(app, r.serial(), Math::max)));
        long now = clock.millis();
        serials.forEach((app, serial) -> {
            if (serial > 0) {
                store.sawSerial(app, serial, now);
            }
        });
        sink.accept(spread);
        return spread;
    }

    /** Status of every node, at most {@code inFlight} calls at once; per node key, its apps (none when no answer). */
    private Map<String, Map<String, Running>> ask(Map<String, Asked> nodes) throws InterruptedException {
        Map<String, Map<String, Running>> out = new ConcurrentHashMap<>();
        Semaphore inFlight = new Semaphore(config.inFlight());
        CountDownLatch done = new CountDownLatch(nodes.size());
        Map<Targets, AgentClient> clients = new HashMap<>();
        StatusRequest req = StatusRequest.getDefaultInstance();
        for (Map.Entry<String, Asked> e : nodes.entrySet()) {
            Node n = e.getValue().node();
            AgentClient client;
            try {
                client = clients.computeIfAbsent(e.getValue().targets(), t -> agents.client(t, List.of(n)));
            } catch (RuntimeException refused) { // e.g. plaintext recorded for a node off loopback
                LOG.warning("status poll: " + n.name() + " (" + n.address() + "): " + refused.getMessage());
                done.countDown();
                continue;
            }
            inFlight.acquire();
            ManagedChannel ch;
            try {
                ch = client.open(n);
            } catch (RuntimeException cannot) {
                LOG.warning("status poll: " + n.name() + " (" + n.address() + "): " + cannot.getMessage());
                inFlight.release();
                done.countDown();
                continue;
            }
            AgentServiceGrpc.newStub(ch).withDeadlineAfter(AgentClient.QUERY_DEADLINE_SECONDS, TimeUnit.SECONDS)
                    .status(req, new StreamObserver<>() {
                        @Override
                        public void onNext(StatusResponse r) {
                            Map<String, Running> apps = new HashMap<>();
                            for (AppStatus a : r.getAppsList()) {
                                apps.put(a.getApp(), new Running(a.getManifestDigest(), a.getSerial()));
                            }
                            out.put(e.getKey(), apps);
                        }

                        @Override
                        public void onError(Throwable t) {
                            end();
                        }

                        @Override
                        public void onCompleted() {
                            end();
                        }

                        private void end() {
                            ch.shutdownNow();
                            inFlight.release();
                            done.countDown();
                        }
                    });
        }
        // Every call has its deadline: the wait ends by then (the margin covers callbacks late on a busy machine).
        if (!done.await(AgentClient.QUERY_DEADLINE_SECONDS + 30L, TimeUnit.SECONDS)) {
            LOG.warning("status poll: " + done.getCount() + " node(s) did not answer in time");
        }
        return out;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}

package dev.pinfleet.controller.metrics;

import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutState;
import dev.pinfleet.proto.v1.RolloutSummary;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The controller's Prometheus metrics, read from its records (the record is the truth; nothing is counted beside
 * it). Each scrape first reads what changed since the last one: rollouts submitted since, and those it saw unfinished.
 * An ended rollout is counted once; at start every recorded rollout is, so the counters continue across restarts of
 * the controller instead of dropping to zero.
 *
 * <ul>
 *   <li>{@link #ROLLOUTS} [{@code pinfleet_rollouts_total{app,environment,kind,outcome}}]: ended rollouts; kind
 *       deploy, rollback or retry; outcome succeeded, failed or cancelled</li>
 *   <li>{@link #ROLLOUT_DURATION} [{@code pinfleet_rollout_duration_seconds_bucket{app,environment,outcome,le}}, …]:
 *       from start to end</li>
 *   <li>{@link #RESTORE} [{@code pinfleet_rollout_restore_seconds_bucket{app,environment,le}}, …]: time to restore,
 *       from the end of a failed rollout (or of a deploy later rolled back) to the end of the next successful one</li>
 *   <li>{@link #LAST_SUCCESS} [{@code pinfleet_app_last_successful_rollout_timestamp_seconds{app,environment}}]</li>
 *   <li>{@link #LAST_FAILURE} [{@code pinfleet_app_last_failed_rollout_timestamp_seconds{app,environment}}]: when the
 *       app's last failed rollout ended, 0 while none has. The failed-rollout alert reads this, not
 *       {@code increase(pinfleet_rollouts_total[1h])}: a new app's first rollouts can be submitted and end between two
 *       scrapes, so its counters appear with their first counts already in them, which {@code increase()} never sees
 *       (it needs a sample before the change); a timestamp has no such blind spot, nor one at a controller's restart
 *       or a new standby's first scrape</li>
 *   <li>{@link #ACTIVE} [{@code pinfleet_rollouts_active{app,environment,state}}]: rollouts not ended, by state
 *       (queued, running, paused, cancelling, interrupted)</li>
 *   <li>{@link #NODES} [{@code pinfleet_rollout_nodes{app,environment,state}}]: nodes of those rollouts by state
 *       (pending, running, ok, unchanged, failed, unreachable, stuck, reverted, skipped, cancelled)</li>
 *   <li>{@link #RELEASE_NODES} [{@code pinfleet_fleet_release_nodes{app,environment,digest}}]: the fleet's version
 *       spread, nodes per app by the digest of the release they run, as the controller's last Status poll found
 *       them (see {@link #releases}); a digest no node runs any more is removed, so the series are the digests
 *       running at once: one per app, two or three while a rollout or a drift lasts</li>
 *   <li>{@link #CONTROLLER_ACTIVE} [{@code pinfleet_controller_active}]: 1 on the served controller that runs the
 *       rollouts (holds the leadership lease), 0 on a standby. Every other series here is read from the shared records,
 *       so an active and a standby controller on one database show the same values: aggregate them across controllers
 *       with {@code max without (instance)}, never {@code sum} (the dashboard and the alert rules do); only the active
 *       one polls the agents, so the version spread is the active's alone</li>
 * </ul>
 *
 * <p>Labels are bounded by the apps and environments of the records and fixed sets of kinds, outcomes and states:
 * never a rollout id, node name or operator. Thread-safe.
 */
public final class ControllerMetrics implements AutoCloseable {
    public static final String ROLLOUTS = "pinfleet.rollouts";
    public static final String ROLLOUT_DURATION = "pinfleet.rollout.duration";
    public static final String RESTORE = "pinfleet.rollout.restore";
    public static final String LAST_SUCCESS = "pinfleet.app.last.successful.rollout.timestamp";
    public static final String LAST_FAILURE = "pinfleet.app.last.failed.rollout.timestamp";
    public static final String ACTIVE = "pinfleet.rollouts.active";
    public static final String NODES = "pinfleet.rollout.nodes";
    public static final String RELEASE_NODES = "pinfleet.fleet.release.nodes";
    public static final String CONTROLLER_ACTIVE = "pinfleet.controller.active";

    /** Bucket bounds of rollout durations and times to restore: seconds (a one-node rollout) to a day. */
    public static final List<Duration> BUCKETS = List.of(Duration.ofSeconds(1), Duration.ofSeconds(5),
            Duration.ofSeconds(15), Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(2),
            Duration.ofMinutes(5), Duration.ofMinutes(10), Duration.ofMinutes(30), Duration.ofHours(1),
            Duration.ofHours(3), Duration.ofHours(12), Duration.ofDays(1));
    private static final String ACTIVE_HELP = "Rollouts not ended, by state (from the records)";
    private static final String NODES_HELP = "Nodes of the rollouts not ended, by state (from the records)";
    /** What a rollout was submitted as. */
    static final List<String> KINDS = List.of("deploy", "rollback", "retry");
    /** How a rollout ends. */
    static final List<String> OUTCOMES = List.of("succeeded", "failed", "cancelled");
    static final List<String> ACTIVE_STATES = List.of("queued", "running", "paused", "cancelling", "interrupted");
    static final List<String> NODE_STATES = List.of(Outcomes.PENDING, Outcomes.RUNNING, "ok", "unchanged", "failed",
            "unreachable", "stuck", "reverted", "skipped", "cancelled");
    /** Rollouts read per page while looking for those submitted since the last scrape. */
    static final int PAGE = 64;

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final RolloutStore store;
    private long highestSeen;
    private final Map<Long, RolloutSummary> unfinished = new LinkedHashMap<>();
    /** Per app and environment: when the first failure since the last success ended (ms), absent when none. */
    private final Map<Tags, Long> failedSince = new HashMap<>();
    /** Per app and environment: when its last successful rollout ended (ms). */
    private final Map<Tags, AtomicLong> lastSuccess = new HashMap<>();
    /** Per app and environment: when its last failed rollout ended (ms). */
    private final Map<Tags, AtomicLong> lastFailure = new HashMap<>();
    /** Gauges of rollouts and nodes by state: their current values, kept after they drop to zero. */
    private final Map<Tags, AtomicLong> active = new HashMap<>();
    private final Map<Tags, AtomicLong> nodes = new HashMap<>();
    /** Nodes by app, environment and release digest, from the last Status poll. */
    private final Map<Tags, AtomicLong> releaseNodes = new HashMap<>();
    /** Apps and environments whose series are registered. */
    private final Set<Tags> known = new HashSet<>();

    public ControllerMetrics(RolloutStore store) {
        this.store = store;
    }

    /** Registers {@link #CONTROLLER_ACTIVE}: 1 while {@code leads} says this controller runs the rollouts, else 0. */
    public synchronized void leading(BooleanSupplier leads) {
        // The Supplier form: Micrometer holds it strongly (an object-and-function gauge holds its object weakly, and a
        // method reference nobody else keeps would be collected, leaving NaN).
        Gauge.builder(CONTROLLER_ACTIVE, () -> leads.getAsBoolean() ? 1 : 0).description("1 on the controller that"
                + " runs the rollouts (holds the leadership lease), 0 on a standby; the other controller series come from"
                + " the shared records: aggregate them across controllers with max, not sum").register(registry);
    }

    /** The Prometheus text (format 0.0.4) after reading what changed in the records. */
    public synchronized String scrape(String contentType) {
        refresh();
        return registry.scrape(contentType);
    }

    /** Reads the records changed since the last call and updates the meters. */
    synchronized void refresh() {
        List<RolloutSummary> ended = new ArrayList<>();
        for (RolloutSummary s : submittedSince(highestSeen)) {
            highestSeen = Math.max(highestSeen, s.getId());
            if (Outcomes.ACTIVE.contains(s.getOutcome())) {
                unfinished.put(s.getId(), s);
            } else {
                ended.add(s);
            }
        }
        for (Long id : List.copyOf(unfinished.keySet())) {
            RolloutSummary now = store.record(id).map(RolloutStore.RolloutRecord::summary).orElse(null);
            if (now == null || !Outcomes.ACTIVE.contains(now.getOutcome())) {
                unfinished.remove(id);
                if (now != null) {
                    ended.add(now);
                }
            } else {
                unfinished.put(id, now);
            }
        }
        ended.sort(Comparator.comparingLong((RolloutSummary s) -> millis(s.getEnded()))
                .thenComparingLong(RolloutSummary::getId));
        ended.forEach(this::count);
        gauges();
    }

    /** Rollouts with an id above {@code after}, oldest first (history is newest first: read pages until past it). */
    private List<RolloutSummary> submittedSince(long after) {
        int limit = PAGE;
        while (true) {
            List<RolloutSummary> page = store.history(null, Set.of(), limit);
            boolean reachedSeen = !page.isEmpty() && page.get(page.size() - 1).getId() <= after;
            if (page.size() < limit || reachedSeen || limit >= Integer.MAX_VALUE / 4) {
                List<RolloutSummary> out = new ArrayList<>();
                for (int i = page.size() - 1; i >= 0; i--) {
                    if (page.get(i).getId() > after) {
                        out.add(page.get(i));
                    }
                }
                return out;
            }
            limit *= 4;
        }
    }

    private static Tags where(RolloutSummary s) {
        return Tags.of("app", s.getApp(), "environment", s.getEnvironment());
    }

    /**
     * Registers every series of an app and environment the first time one of its rollouts is seen, at zero: a
     * series that appears with its first count already in it is invisible to {@code increase()}, and a failure
     * rate needs its failed series before the first failure. (A rollout submitted and ended between two scrapes is
     * first seen ended: its count is in the first sample; see {@link #LAST_FAILURE}.)
     */
    private void known(Tags where) {
        if (!known.add(where)) {
            return;
        }
        for (String kind : KINDS) {
            for (String outcome : OUTCOMES) {
                rollouts(where, kind, outcome);
            }
        }
        for (String outcome : OUTCOMES) {
            duration(where, outcome);
        }
        restore(where);
        timestamp(LAST_SUCCESS, "When the app's last successful rollout ended (Unix seconds)", lastSuccess, where);
        timestamp(LAST_FAILURE, "When the app's last failed rollout ended (Unix seconds; 0 while none has)",
                lastFailure, where);
        for (String state : ACTIVE_STATES) {
            gauge(ACTIVE, ACTIVE_HELP, active, where.and("state", state));
        }
        for (String state : NODE_STATES) {
            gauge(NODES, NODES_HELP, nodes, where.and("state", state));
        }
    }

    private Counter rollouts(Tags where, String kind, String outcome) {
        return Counter.builder(ROLLOUTS).description("Ended rollouts, by kind and outcome (from the records)")
                .tags(where).tag("kind", kind).tag("outcome", outcome).register(registry);
    }

    private Timer duration(Tags where, String outcome) {
        return histogram(ROLLOUT_DURATION, "Rollouts from start to end, by outcome (from the records)")
                .tags(where).tag("outcome", outcome).register(registry);
    }

    private Timer restore(Tags where) {
        return histogram(RESTORE, "Time to restore: from a failed (or rolled back) rollout's end to the end of the"
                + " next successful one (from the records)").tags(where).register(registry);
    }

    private void count(RolloutSummary s) {
        String outcome = Outcomes.key(s.getOutcome());
        Tags where = where(s);
        known(where);
        rollouts(where, Outcomes.key(s.getKind()), outcome).increment();
        duration(where, outcome).record(Math.max(0, s.getDurationMs()), TimeUnit.MILLISECONDS);
        long endedMs = millis(s.getEnded());
        AtomicLong last = lastSuccess.get(where);
        if (s.getOutcome() == RolloutState.ROLLOUT_SUCCEEDED) {
            // A rollback that succeeds restores what the rollout before it broke, failed or not.
            Long since = failedSince.remove(where);
            if (since == null && s.getKind() == RolloutKind.ROLLOUT_ROLLBACK && last.get() > 0) {
                since = last.get();
            }
            if (since != null) {
                restore(where).record(Math.max(0, endedMs - since), TimeUnit.MILLISECONDS);
            }
            last.set(endedMs);
        } else if (s.getOutcome() == RolloutState.ROLLOUT_FAILED) {
            failedSince.putIfAbsent(where, endedMs);
            lastFailure.get(where).accumulateAndGet(endedMs, Math::max);
        }
    }

    /** A gauge of Unix seconds from milliseconds held in {@code values}, registered at zero. */
    private void timestamp(String name, String description, Map<Tags, AtomicLong> values, Tags where) {
        AtomicLong v = values.computeIfAbsent(where, w -> new AtomicLong());
        Gauge.builder(name, v, x -> x.get() / 1000.0).baseUnit("seconds").description(description).tags(where)
                .register(registry);
    }

    private static Timer.Builder histogram(String name, String description) {
        return Timer.builder(name).description(description).serviceLevelObjectives(BUCKETS.toArray(Duration[]::new));
    }

    /** Sets the gauges of rollouts and nodes by state from the unfinished rollouts (zero where none is left). */
    private void gauges() {
        active.values().forEach(v -> v.set(0));
        nodes.values().forEach(v -> v.set(0));
        for (RolloutSummary s : unfinished.values()) {
            Tags where = where(s);
            known(where);
            gauge(ACTIVE, ACTIVE_HELP, active, where.and("state", Outcomes.key(s.getOutcome()))).incrementAndGet();
            s.getNodesMap().forEach((state, n) -> gauge(NODES, NODES_HELP, nodes, where.and("state", state)).addAndGet(n));
        }
    }

    /** Nodes of an app and environment that run the release of {@code digest} (lowercase hex SHA-256). */
    public record ReleaseNodes(String app, String environment, String digest, int nodes) {}

    /**
     * The fleet's version spread as a Status poll of every node found it: sets each app, environment and digest's
     * count, and removes the series of digests no longer in {@code spread}.
     */
    public synchronized void releases(List<ReleaseNodes> spread) {
        Map<Tags, Integer> now = new HashMap<>();
        for (ReleaseNodes r : spread) {
            now.merge(Tags.of("app", r.app(), "environment", r.environment(), "digest", r.digest()), r.nodes(),
                    Integer::sum);
        }
        for (Tags gone : List.copyOf(releaseNodes.keySet())) {
            if (!now.containsKey(gone)) {
                releaseNodes.remove(gone);
                Gauge g = registry.find(RELEASE_NODES).tags(gone).gauge();
                if (g != null) {
                    registry.remove(g);
                }
            }
        }
        now.forEach((tags, n) -> gauge(RELEASE_NODES, "Nodes per app by the digest of the release they run (the"
                + " controller's last Status poll)", releaseNodes, tags).set(n));
    }

    /** The gauge of {@code tags}, registered on first use (bounded: apps and environments times a fixed set). */
    private AtomicLong gauge(String name, String description, Map<Tags, AtomicLong> gauges, Tags tags) {
        return gauges.computeIfAbsent(tags, t -> {
            AtomicLong v = new AtomicLong();
            Gauge.builder(name, v, AtomicLong::get).description(description).tags(t).register(registry);
            return v;
        });
    }

    private static long millis(com.google.protobuf.Timestamp t) {
        return t.getSeconds() * 1000 + t.getNanos() / 1_000_000;
    }

    @Override
    public void close() {
        registry.close();
    }
}

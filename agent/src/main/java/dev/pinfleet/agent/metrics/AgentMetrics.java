package dev.pinfleet.agent.metrics;

import dev.pinfleet.metrics.MetricsServer;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.PhaseTiming;
import dev.pinfleet.proto.v1.Source;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The agent's meters, exposed in Prometheus text by {@link MetricsServer}. Deploy meters are derived from each
 * {@link DeployReport} ({@link #recordDeploy}); the per-app and store gauges are read from disk just before
 * each scrape ({@link #scrape}), so they are right after a restart too. Tag values are bounded: enum names of
 * the wire contract (outcome, phase, source), {@link FailureLabel} tags, and app names (chosen by the operator
 * and only taken from verified manifests). Never a host name, version or file name: Prometheus adds the
 * target's {@code instance} label itself.
 *
 * <p>Names (Micrometer constants below; Prometheus names in brackets):
 * <ul>
 *   <li>{@link #DEPLOYS} [{@code pinfleet_deploys_total{outcome}}]</li>
 *   <li>{@link #DEPLOY_FAILURES} [{@code pinfleet_deploy_failures_total{reason}}]</li>
 *   <li>{@link #DEPLOY_DURATION} [{@code pinfleet_deploy_duration_seconds_bucket{outcome,le}}, {@code _sum},
 *       {@code _count}, {@code _max}]</li>
 *   <li>{@link #PHASE_DURATION} [{@code pinfleet_deploy_phase_seconds_bucket{phase,le}}, …]</li>
 *   <li>{@link #ARTIFACTS} [{@code pinfleet_artifacts_total{source}}]: {@code mirror} = fetched, {@code store} = reused</li>
 *   <li>{@link #ARTIFACT_BYTES} [{@code pinfleet_artifact_bytes_total{source}}]</li>
 *   <li>{@link #FETCH_RETRIES} [{@code pinfleet_fetch_retries_total}], {@link #FETCH_FAILOVERS}
 *       [{@code pinfleet_fetch_failovers_total}]</li>
 *   <li>{@link #APP_SERIAL} [{@code pinfleet_app_serial{app}}], {@link #APP_RELEASES}
 *       [{@code pinfleet_app_releases{app}}], {@link #STORE_SIZE} [{@code pinfleet_store_size_bytes}]</li>
 *   <li>{@link #APP_RELEASE_INFO} [{@code pinfleet_app_release_info{app,digest}}]: 1 for the digest `current`
 *       runs, one series per app; {@link #APP_LAST_DEPLOY} [{@code pinfleet_app_last_deploy_timestamp_seconds{app}}]</li>
 *   <li>{@link #DEPLOYS_REFUSED} [{@code pinfleet_deploys_refused_total}]: deploys refused while another ran</li>
 *   <li>{@link #BUILD_INFO} [{@code pinfleet_agent_build_info{version}}]: 1, the agent's version as a label</li>
 *   <li>JVM and process meters of Micrometer's binders ({@code jvm_*}, {@code process_*}, {@code system_cpu_*}).</li>
 * </ul>
 *
 * <p>Thread-safe. {@link #close()} releases the GC listener.
 */
public final class AgentMetrics implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(AgentMetrics.class.getName());

    /** Counter of finished node deploys, tagged {@value #OUTCOME_TAG} (ok, unchanged, failed, …). */
    public static final String DEPLOYS = "pinfleet.deploys";
    /** Counter of failed node deploys, tagged {@value #REASON_TAG} (a {@link FailureLabel#tag()}). */
    public static final String DEPLOY_FAILURES = "pinfleet.deploy.failures";
    /** Timer (histogram) of whole node deploys on the agent, tagged {@value #OUTCOME_TAG}. */
    public static final String DEPLOY_DURATION = "pinfleet.deploy.duration";
    /** Timer (histogram) of deploy phases, tagged {@value #PHASE_TAG} (verify, plan, fetch, install, switch, …). */
    public static final String PHASE_DURATION = "pinfleet.deploy.phase";
    /** Counter of artifacts brought into releases, tagged {@value #SOURCE_TAG}: mirror (fetched), store (reused). */
    public static final String ARTIFACTS = "pinfleet.artifacts";
    /** Counter of the bytes of those artifacts, tagged {@value #SOURCE_TAG}. */
    public static final String ARTIFACT_BYTES = "pinfleet.artifact.bytes";
    /** Counter of download attempts beyond the first per fetched artifact (retries and failover attempts). */
    public static final String FETCH_RETRIES = "pinfleet.fetch.retries";
    /** Counter of artifacts fetched from a mirror other than the first configured one. */
    public static final String FETCH_FAILOVERS = "pinfleet.fetch.failovers";
    /** Gauge of the last applied manifest serial, tagged {@value #APP_TAG}. */
    public static final String APP_SERIAL = "pinfleet.app.serial";
    /** Gauge of the releases kept on disk, tagged {@value #APP_TAG}. */
    public static final String APP_RELEASES = "pinfleet.app.releases";
    /** Gauge of the bytes in the content-addressed store. */
    public static final String STORE_SIZE = "pinfleet.store.size";
    /**
     * Info-style gauge, always 1, tagged {@value #APP_TAG} and {@value #DIGEST_TAG}: the manifest digest of the
     * release `current` runs. One series per app (the previous digest's series goes when it changes), so a
     * dashboard counts nodes per digest with {@code count by (app, digest)}.
     */
    public static final String APP_RELEASE_INFO = "pinfleet.app.release.info";
    /** Gauge of when the app's last deploy attempt ended (Unix seconds, agent clock), tagged {@value #APP_TAG}. */
    public static final String APP_LAST_DEPLOY = "pinfleet.app.last.deploy.timestamp";
    /** Counter of deploys refused because another deploy was running on the agent (one at a time). */
    public static final String DEPLOYS_REFUSED = "pinfleet.deploys.refused";
    /** Info-style gauge, always 1, tagged {@value #VERSION_TAG}: the agent's software version. */
    public static final String BUILD_INFO = "pinfleet.agent.build.info";

    /** Tag key: lowercase {@link Outcome} name. */
    public static final String OUTCOME_TAG = "outcome";
    /** Tag key: lowercase {@link Phase} name. */
    public static final String PHASE_TAG = "phase";
    /** Tag key: lowercase {@link Source} name. */
    public static final String SOURCE_TAG = "source";
    /** Tag key: {@link FailureLabel#tag()}. */
    public static final String REASON_TAG = "reason";
    /** Tag key: app name from a verified manifest. */
    public static final String APP_TAG = "app";
    /** Tag key of {@link #APP_RELEASE_INFO}: lowercase hex SHA-256 of the current release's manifest. */
    public static final String DIGEST_TAG = "digest";
    /** Tag key of {@link #BUILD_INFO}: the agent's version. */
    public static final String VERSION_TAG = "version";

    /**
     * Histogram bucket bounds for deploy and phase durations: fine below a second (verify, plan, switch take
     * milliseconds), coarse up to ten minutes (fetch and install of a large set), so {@code histogram_quantile}
     * gives usable p50 and p99 for every phase.
     */
    public static final List<Duration> BUCKETS = List.of(Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofSeconds(25), Duration.ofSeconds(60), Duration.ofSeconds(120),
            Duration.ofSeconds(300), Duration.ofSeconds(600));

    /**
     * Binder meters left out because {@code promtool check metrics} rejects their Prometheus names
     * ({@code system_cpu_count}: "_count" suffix on a gauge; {@code process_cpu_time_ns_total}: abbreviated unit).
     * {@code process_cpu_usage} and {@code system_cpu_usage} remain.
     */
    static final Set<String> LINT_REJECTED = Set.of("system.cpu.count", "process.cpu.time");

    /** Reads something from the node's disk for a gauge. */
    @FunctionalInterface
    public interface Probe<T> {
        T read() throws Exception;
    }

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final URI primaryMirror;
    private final Probe<List<AppStatus>> apps;
    private final Probe<Long> storeBytes;
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final Map<Outcome, Counter> deploys = new EnumMap<>(Outcome.class);
    private final Map<Outcome, Timer> deployDuration = new EnumMap<>(Outcome.class);
    private final Map<Phase, Timer> phaseDuration = new EnumMap<>(Phase.class);
    private final Map<FailureLabel, Counter> failures = new EnumMap<>(FailureLabel.class);
    private final Map<Source, Counter> artifacts = new EnumMap<>(Source.class);
    private final Map<Source, Counter> artifactBytes = new EnumMap<>(Source.class);
    private final Counter retries;
    private final Counter failovers;
    private final Counter refused;
    private final AtomicLong storeSize = new AtomicLong();
    private final Map<String, AppGauges> appGauges = new HashMap<>();

    private static final class AppGauges {
        final AtomicLong serial = new AtomicLong();
        final AtomicLong releases = new AtomicLong();
        final AtomicLong lastDeployMs = new AtomicLong();
        final List<Meter> meters = new java.util.ArrayList<>();
        String digest;
        Meter digestMeter;
    }

    /**
     * @param mirrors    the agent's mirrors in order; a fetch from any but the first counts as a failover
     * @param apps       every app's status (serial, releases kept), read before each scrape
     * @param storeBytes bytes in the content-addressed store, read before each scrape
     * @param version    the agent's software version, for {@link #BUILD_INFO}
     */
    public AgentMetrics(List<URI> mirrors, Probe<List<AppStatus>> apps, Probe<Long> storeBytes, String version) {
        this.primaryMirror = mirrors.isEmpty() ? null : mirrors.get(0);
        this.apps = apps;
        this.storeBytes = storeBytes;
        registry.config().meterFilter(MeterFilter.deny(id -> LINT_REJECTED.contains(id.getName())));
        for (MeterBinder b : List.of(new JvmMemoryMetrics(), gc, new JvmThreadMetrics(), new ClassLoaderMetrics(),
                new ProcessorMetrics(), new UptimeMetrics(), new FileDescriptorMetrics())) {
            b.bindTo(registry);
        }
        for (Outcome o : Outcome.values()) {
            if (o != Outcome.UNRECOGNIZED && o != Outcome.OUTCOME_UNSPECIFIED) {
                deploys.put(o, Counter.builder(DEPLOYS).description("Node deploys finished, by outcome")
                        .tag(OUTCOME_TAG, tag(o)).register(registry));
                deployDuration.put(o, histogram(DEPLOY_DURATION, "Wall time of node deploys on the agent, by outcome")
                        .tag(OUTCOME_TAG, tag(o)).register(registry));
            }
        }
        for (Phase p : Phase.values()) {
            if (p != Phase.UNRECOGNIZED && p != Phase.PHASE_UNSPECIFIED) {
                phaseDuration.put(p, histogram(PHASE_DURATION, "Wall time of deploy phases")
                        .tag(PHASE_TAG, tag(p)).register(registry));
            }
        }
        for (FailureLabel r : FailureLabel.values()) {
            failures.put(r, Counter.builder(DEPLOY_FAILURES).description("Failed node deploys, by reason")
                    .tag(REASON_TAG, r.tag()).register(registry));
        }
        for (Source s : Source.values()) {
            if (s != Source.UNRECOGNIZED && s != Source.SOURCE_UNSPECIFIED) {
                artifacts.put(s, Counter.builder(ARTIFACTS)
                        .description("Artifacts brought into releases, by where their bytes came from")
                        .tag(SOURCE_TAG, tag(s)).register(registry));
                artifactBytes.put(s, Counter.builder(ARTIFACT_BYTES).baseUnit("bytes")
                        .description("Bytes of the artifacts brought into releases, by where they came from")
                        .tag(SOURCE_TAG, tag(s)).register(registry));
            }
        }
        retries = Counter.builder(FETCH_RETRIES)
                .description("Download attempts beyond the first per fetched artifact (retries and failovers)")
                .register(registry);
        failovers = Counter.builder(FETCH_FAILOVERS)
                .description("Artifacts fetched from a mirror other than the first configured one").register(registry);
        refused = Counter.builder(DEPLOYS_REFUSED)
                .description("Deploys refused because another deploy was running on the agent").register(registry);
        Gauge.builder(STORE_SIZE, storeSize, AtomicLong::get).baseUnit("bytes")
                .description("Bytes in the agent's content-addressed store").register(registry);
        Gauge.builder(BUILD_INFO, () -> 1).description("The agent's software version, as a label; always 1")
                .tag(VERSION_TAG, version).register(registry);
    }

    /** Counts a deploy refused because another one was running. */
    public void recordRefused() {
        refused.increment();
    }

    private static Timer.Builder histogram(String name, String description) {
        return Timer.builder(name).description(description)
                .serviceLevelObjectives(BUCKETS.toArray(Duration[]::new));
    }

    private static String tag(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /** Counts one finished node deploy: outcome, durations, failure reason, artifacts by source, retries. */
    public void recordDeploy(DeployReport r) {
        Counter c = deploys.get(r.getOutcome());
        if (c == null) {
            return; // an unset outcome is not a finished deploy
        }
        c.increment();
        deployDuration.get(r.getOutcome()).record(Duration.ofMillis(Math.max(0, r.getTotalMs())));
        for (PhaseTiming t : r.getPhasesList()) {
            Timer timer = phaseDuration.get(t.getPhase());
            if (timer != null) {
                timer.record(Duration.ofMillis(Math.max(0, t.getMillis())));
            }
        }
        FailureLabel reason = FailureLabel.of(r);
        if (reason != null) {
            failures.get(reason).increment();
        }
        // a failed deploy's report lists what it fetched too; these counters count what went into releases
        for (ArtifactResult a : r.getOutcome() == Outcome.FAILED ? List.<ArtifactResult>of() : r.getArtifactsList()) {
            Counter n = artifacts.get(a.getSource());
            if (n == null) {
                continue;
            }
            n.increment();
            artifactBytes.get(a.getSource()).increment(a.getBytes());
            if (a.getTries() > 1) {
                retries.increment(a.getTries() - 1);
            }
            if (a.getSource() == Source.MIRROR && primaryMirror != null && !a.getUrl().isEmpty()
                    && !a.getUrl().startsWith(primaryMirror.toString())) {
                failovers.increment();
            }
        }
    }

    /**
     * Reads the gauges from disk, then renders every meter in the Prometheus text format 0.0.4. A probe that
     * fails leaves its gauges at their last values (logged), so a scrape never fails for it.
     */
    public String scrape() {
        refresh();
        return registry.scrape(MetricsServer.CONTENT_TYPE);
    }

    /** The registry (for tests and for binding more meters). */
    public PrometheusMeterRegistry registry() {
        return registry;
    }

    synchronized void refresh() {
        List<AppStatus> now;
        try {
            storeSize.set(storeBytes.read());
            now = apps.read();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (Exception e) {
            LOG.log(Level.FINE, "metrics: cannot read the store size or the app states", e);
            return;
        }
        Set<String> seen = new HashSet<>();
        for (AppStatus s : now) {
            seen.add(s.getApp());
            AppGauges g = appGauges.computeIfAbsent(s.getApp(), this::registerApp);
            g.serial.set(s.getSerial());
            g.releases.set(s.getReleasesCount());
            g.lastDeployMs.set(s.getLastEndedUnixMs() > 0 ? s.getLastEndedUnixMs() : s.getLastStartedUnixMs());
            String digest = s.getManifestDigest();
            if (!digest.equals(g.digest)) {
                if (g.digestMeter != null) {
                    registry.remove(g.digestMeter);
                }
                g.digest = digest;
                g.digestMeter = digest.isEmpty() ? null : Gauge.builder(APP_RELEASE_INFO, () -> 1)
                        .description("Manifest digest of the release current runs, as a label; always 1")
                        .tag(APP_TAG, s.getApp()).tag(DIGEST_TAG, digest).register(registry);
            }
        }
        appGauges.entrySet().removeIf(e -> {
            if (seen.contains(e.getKey())) {
                return false;
            }
            e.getValue().meters.forEach(registry::remove);
            if (e.getValue().digestMeter != null) {
                registry.remove(e.getValue().digestMeter);
            }
            return true;
        });
    }

    private AppGauges registerApp(String app) {
        AppGauges g = new AppGauges();
        g.meters.add(Gauge.builder(APP_SERIAL, g.serial, AtomicLong::get)
                .description("Serial of the last manifest applied for the app").tag(APP_TAG, app).register(registry));
        g.meters.add(Gauge.builder(APP_RELEASES, g.releases, AtomicLong::get)
                .description("Releases of the app kept on disk").tag(APP_TAG, app).register(registry));
        g.meters.add(Gauge.builder(APP_LAST_DEPLOY, g.lastDeployMs, ms -> ms.get() / 1000.0).baseUnit("seconds")
                .description("When the app's last deploy attempt ended, Unix seconds (agent clock); 0 when unknown")
                .tag(APP_TAG, app).register(registry));
        return g;
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}

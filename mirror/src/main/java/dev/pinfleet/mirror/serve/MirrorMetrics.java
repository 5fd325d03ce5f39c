package dev.pinfleet.mirror.serve;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The mirror server's meters. Names are constants; the only tag value is the numeric HTTP status, a
 * bounded set. In Prometheus text they appear as {@code pinfleet_mirror_requests_total{status="200"}},
 * {@code pinfleet_mirror_bytes_served_total}, {@code pinfleet_mirror_connections_active} and
 * {@code pinfleet_mirror_uploads_total{outcome="published|unchanged|refused"}}.
 */
public final class MirrorMetrics {
    /** Counter of answered requests, tagged {@code status}. */
    public static final String REQUESTS = "pinfleet.mirror.requests";
    /** Counter of response body bytes sent (files, index pages, errors). */
    public static final String BYTES_SERVED = "pinfleet.mirror.bytes.served";
    /** Gauge of open client connections. */
    public static final String CONNECTIONS = "pinfleet.mirror.connections.active";
    /** The status tag's key. */
    public static final String STATUS_TAG = "status";
    /** Counter of HTTP uploads, tagged {@code outcome}: published, unchanged or refused. */
    public static final String UPLOADS = "pinfleet.mirror.uploads";
    /** The outcome tag's key. */
    public static final String OUTCOME_TAG = "outcome";

    private final MeterRegistry registry;
    private final ConcurrentHashMap<Integer, Counter> requests = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> uploads = new ConcurrentHashMap<>();
    private final Counter bytes;
    private final AtomicInteger connections = new AtomicInteger();

    MirrorMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.bytes = Counter.builder(BYTES_SERVED).description("Response body bytes sent by the mirror")
                .register(registry);
        Gauge.builder(CONNECTIONS, connections, AtomicInteger::get)
                .description("Open client connections to the mirror").register(registry);
    }

    void request(int status, long bodyBytes) {
        requests.computeIfAbsent(status, s -> Counter.builder(REQUESTS)
                .description("Requests answered by the mirror, by HTTP status")
                .tag(STATUS_TAG, Integer.toString(s)).register(registry)).increment();
        if (bodyBytes > 0) {
            bytes.increment(bodyBytes);
        }
    }

    void upload(String outcome) {
        uploads.computeIfAbsent(outcome, o -> Counter.builder(UPLOADS)
                .description("HTTP uploads answered by the mirror, by outcome")
                .tag(OUTCOME_TAG, o).register(registry)).increment();
    }

    AtomicInteger connections() {
        return connections;
    }

    MeterRegistry registry() {
        return registry;
    }
}

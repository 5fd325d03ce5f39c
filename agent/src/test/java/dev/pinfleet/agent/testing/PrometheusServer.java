package dev.pinfleet.agent.testing;

import dev.pinfleet.testing.LoopbackPorts;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Debian's real Prometheus server ({@code /usr/bin/prometheus}) on a loopback port, with a generated configuration
 * (its own scrape interval, rule files and static targets per job) and its own TSDB under a temp directory; queried
 * through its HTTP API. AutoCloseable: closing stops the process this harness started, by its handle (SIGTERM, then
 * SIGKILL after a bound).
 */
public final class PrometheusServer implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/prometheus");
    /** A bound on a hung start, not a verdict: Prometheus is ready in about a second here, far more on a busy box. */
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final int PORT_ATTEMPTS = 3;

    private final Process process;
    private final Path log;
    private final URI base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private PrometheusServer(Process process, Path log, URI base) {
        this.process = process;
        this.log = log;
        this.base = base;
    }

    /**
     * Writes {@code dir/prometheus.yml} (scrape and evaluation interval {@code interval}, {@code ruleFiles}, one
     * static job per entry of {@code targetsByJob} with {@code host:port} targets, the label {@code environment=test}
     * where a series has none of its own, and {@code honor_labels} as the controller's job in pinfleet-scrape.yml) and starts Prometheus on a free loopback port; returns once {@code /-/ready} answers.
     */
    public static PrometheusServer start(Path dir, Duration interval, List<Path> ruleFiles,
            Map<String, List<String>> targetsByJob) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        StringBuilder cfg = new StringBuilder("global:\n  scrape_interval: ").append(interval.toMillis())
                .append("ms\n  scrape_timeout: ").append(interval.toMillis()).append("ms\n  evaluation_interval: ")
                .append(interval.toMillis()).append("ms\nrule_files:\n");
        ruleFiles.forEach(f -> cfg.append("  - '").append(f.toAbsolutePath()).append("'\n"));
        cfg.append("scrape_configs:\n");
        targetsByJob.forEach((job, targets) -> {
            cfg.append("  - job_name: '").append(job).append("'\n    honor_labels: true\n    static_configs:\n")
                    .append("      - targets:\n");
            targets.forEach(t -> cfg.append("          - '").append(t).append("'\n"));
            cfg.append("        labels:\n          environment: test\n");
        });
        Path config = Files.writeString(dir.resolve("prometheus.yml"), cfg, StandardCharsets.UTF_8);
        IOException last = null;
        for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
            int port = LoopbackPorts.unclaimed(); // free now; if taken before the server binds it, the start retries
            Path log = dir.resolve("prometheus-" + attempt + ".log");
            Process p = new ProcessBuilder(BINARY.toString(), "--config.file=" + config,
                    "--storage.tsdb.path=" + Files.createDirectories(dir.resolve("data-" + attempt)),
                    "--web.listen-address=127.0.0.1:" + port, "--log.level=info")
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            PrometheusServer server = new PrometheusServer(p, log, URI.create("http://127.0.0.1:" + port));
            try {
                server.awaitReady();
                return server;
            } catch (IOException e) {
                server.close();
                last = e;
                if (!server.log().contains("address already in use")) {
                    throw e;
                }
            }
        }
        throw last;
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException("prometheus exited with " + process.exitValue() + " before it was ready; its log:\n"
                        + log());
            }
            try {
                if (http.send(HttpRequest.newBuilder(base.resolve("/-/ready")).timeout(Duration.ofSeconds(5)).build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("prometheus was not ready within " + READY_TIMEOUT + "; its log:\n" + log());
            }
            Thread.sleep(100);
        }
    }

    public URI base() {
        return base;
    }

    /** The process this harness started (the test stops nothing else). */
    public Process process() {
        return process;
    }

    /** GET {@code /api/v1/PATH?params} and returns {@code data}; a non-success status fails with Prometheus's error. */
    public JsonElement api(String path, Map<String, String> params) throws IOException, InterruptedException {
        StringBuilder q = new StringBuilder();
        params.forEach((k, v) -> q.append(q.length() == 0 ? "?" : "&").append(URLEncoder.encode(k, StandardCharsets.UTF_8))
                .append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
        URI uri = URI.create(base + "/api/v1/" + path + q);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        JsonObject body;
        try {
            body = JsonParser.parseString(r.body()).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("GET " + uri + " answered " + r.statusCode() + ", not JSON: " + r.body(), e);
        }
        if (!"success".equals(body.get("status").getAsString())) {
            throw new IOException("GET " + uri + " answered " + r.statusCode() + ": " + body);
        }
        return body.get("data");
    }

    /** An instant query at {@code time}: the result vector (or a one-element array for a scalar). */
    public JsonArray query(String expr, Instant time) throws IOException, InterruptedException {
        JsonObject data = api("query", Map.of("query", expr, "time", seconds(time))).getAsJsonObject();
        JsonElement result = data.get("result");
        if (result.isJsonArray()) {
            return result.getAsJsonArray();
        }
        JsonArray one = new JsonArray();
        one.add(result);
        return one;
    }

    /** A range query from {@code start} to {@code end} every {@code step}: the result matrix. */
    public JsonArray queryRange(String expr, Instant start, Instant end, Duration step)
            throws IOException, InterruptedException {
        return api("query_range", Map.of("query", expr, "start", seconds(start), "end", seconds(end),
                "step", String.valueOf(step.toMillis() / 1000.0))).getAsJsonObject().getAsJsonArray("result");
    }

    /**
     * Polls {@code expr} (an instant query at "now") every 200 ms until {@code done} holds for its result, at most
     * {@code timeout}; a bound on waiting for scrapes and rule evaluations, never a verdict by itself.
     */
    public JsonArray await(String what, String expr, Predicate<JsonArray> done, Duration timeout)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonArray last;
        do {
            last = query(expr, Instant.now());
            if (done.test(last)) {
                return last;
            }
            Thread.sleep(200);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("waited " + timeout + " for " + what + " (" + expr + "); last result: " + last
                + "\ntargets: " + api("targets", Map.of()) + "\nprometheus log:\n" + log());
    }

    private static String seconds(Instant t) {
        return String.valueOf(t.toEpochMilli() / 1000.0);
    }

    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** SIGTERM to the process this harness started, SIGKILL if it has not exited within 20 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Series in a query result, as a list of their label maps (for messages). */
    public static List<String> labels(JsonArray result) {
        List<String> out = new ArrayList<>();
        result.forEach(r -> out.add(r.isJsonObject() && r.getAsJsonObject().has("metric")
                ? r.getAsJsonObject().get("metric").toString() : r.toString()));
        return out;
    }
}

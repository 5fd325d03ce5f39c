package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.GrafanaDashboard;
import dev.pinfleet.agent.testing.GrafanaDashboard.Kind;
import dev.pinfleet.agent.testing.GrafanaDashboard.Query;
import dev.pinfleet.agent.testing.PrometheusServer;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Grafana dashboard and the alert rules against Debian's real Prometheus server: it scrapes four real agents
 * on loopback every second while they deploy (one node fails its deploy, one agent is stopped), then every query of
 * the dashboard and every alert expression is evaluated through Prometheus's HTTP API, with Grafana's variables
 * substituted as Grafana would, and must return at least one series with a number in it.
 */
class RealPrometheusTest {
    static final Path RULES = Path.of("..", "ansible", "files", "prometheus", "pinfleet-alerts.yml");
    static final String JOB = "pinfleet-agent";
    /** The scrape and rule evaluation interval, and so Grafana's "Scrape interval" for the data source. */
    static final Duration INTERVAL = Duration.ofSeconds(1);
    /**
     * A bound on waiting for scrapes and rule evaluations that follow a change (a few intervals when idle); generous
     * because the CI box is a busy 2-core machine. Never a verdict by itself: the wait ends as soon as the
     * condition holds.
     */
    static final Duration WAIT = Duration.ofSeconds(60);
    private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\((?:(.*),\\s*)?(\\w+)\\)");

    @TempDir Path dir;

    @Test
    void everyDashboardQueryAndAlertReturnsSeriesFromARealPrometheus() throws Exception {
        assumeTrue(Files.isExecutable(PrometheusServer.BINARY), PrometheusServer.BINARY
                + " is not installed (Debian package prometheus; .ci/run installs it): the dashboard and alert rules"
                + " were not checked against a real Prometheus");
        GrafanaDashboard dashboard = GrafanaDashboard.load(DashboardQueriesTest.DASHBOARD);

        try (FakeMirror full = FakeMirror.start(); FakeMirror old = FakeMirror.start();
                TestFleet fleet = new TestFleet(dir.resolve("fleet"), full.baseUri())) {
            Path wheels = Files.createDirectories(dir.resolve("wheels"));
            Artifact core = wheel(wheels, "core-lib", "1.0", full, old);
            Artifact v1 = wheel(wheels, "shop-app", "1.0", full, old);
            Artifact v2 = wheel(wheels, "shop-app", "2.0", full); // not on the mirror n3 uses: its deploy fails
            Map<String, String> metrics = Map.of("metrics-listen", "127.0.0.1:0");
            Agent n1 = fleet.start("n1", metrics);
            Agent n2 = fleet.start("n2", metrics);
            Agent n3 = fleet.start("n3", Map.of("metrics-listen", "127.0.0.1:0", "mirrors", old.baseUri().toString()));
            Agent n4 = fleet.start("n4", metrics);
            List<Agent> all = List.of(n1, n2, n3, n4);
            Instant from = Instant.now().truncatedTo(ChronoUnit.SECONDS);
            try (PrometheusServer prom = PrometheusServer.start(dir.resolve("prometheus"), INTERVAL, List.of(RULES),
                    Map.of(JOB, all.stream().map(a -> "127.0.0.1:" + a.metricsPort()).toList()))) {
                // Counters must be seen at zero before the deploys, or increase() and rate() have nothing to compare.
                prom.await("every agent scraped at least twice", "count(count_over_time(up{job=\"" + JOB
                        + "\"}[1m]) >= 2) == 4", r -> r.size() == 1, WAIT);

                String d1 = null;
                for (Agent a : all) {
                    DeployReport r = deploy(fleet, a, 1, core, v1);
                    assertEquals(Outcome.OK, r.getOutcome(), r.getError());
                    d1 = r.getManifestDigest();
                }
                String d2 = null;
                for (Agent a : List.of(n1, n2, n4)) {
                    DeployReport r = deploy(fleet, a, 2, core, v2);
                    assertEquals(Outcome.OK, r.getOutcome(), r.getError());
                    d2 = r.getManifestDigest();
                }
                DeployReport failed = deploy(fleet, n3, 2, core, v2);
                assertEquals(Outcome.FAILED, failed.getOutcome(), "n3's mirror lacks shop-app 2.0");
                // Makes PinfleetAgentNotScraped's condition true: n4 stops, its scrapes fail.
                fleet.stop(n4);

                prom.await("n4 seen down", "up{job=\"" + JOB + "\",instance=\"127.0.0.1:" + n4.metricsPort()
                        + "\"} == 0", r -> r.size() == 1, WAIT);
                Map<String, Double> spread = Map.of(d1, 1.0, d2, 2.0);
                prom.await("n1 and n2 on the new digest, n3 on the old one (n4's series stale)",
                        "count by (digest) (pinfleet_app_release_info{job=\"" + JOB + "\"})",
                        r -> valuesBy(r, "digest").equals(spread), WAIT);
                prom.await("n3's failure scraped", "sum(pinfleet_deploy_failures_total{job=\"" + JOB + "\"}) == 1",
                        r -> r.size() == 1, WAIT);
                // Every alert of the shipped rules evaluated by Prometheus itself as pending or firing.
                Set<String> alertNames = alertRules(prom).keySet();
                assertEquals(Set.of("PinfleetNodeOffMajorityDigest", "PinfleetAgentNotScraped",
                        "PinfleetNodeDeployFailed"), alertNames);
                prom.await("every alert pending or firing", "count by (alertname) (ALERTS)",
                        r -> labelValues(r, "alertname").equals(alertNames), WAIT);

                Instant to = Instant.now(); // not truncated: the samples awaited above may be from this very second
                Map<String, String> values = new LinkedHashMap<>();
                GrafanaDashboard.View view = new GrafanaDashboard.View(from, to, INTERVAL, 1000, values);
                List<String> report = new ArrayList<>();
                List<String> failures = new ArrayList<>();

                // Variables first, in order, as Grafana resolves them: label_values(selector, label) is a series
                // lookup; the first value (sorted) is the one chosen, and later variables and queries use it.
                for (GrafanaDashboard.Variable v : dashboard.variables()) {
                    Set<String> found = labelValuesOf(prom, view, v.query(), from, to);
                    report.add(String.format("variable $%-10s %2d values %s", v.name(), found.size(), found));
                    if (found.isEmpty()) {
                        failures.add("variable $" + v.name() + ": no values from " + v.query());
                    } else {
                        values.put(v.name(), found.iterator().next());
                    }
                }
                assertEquals(List.of(), failures, String.join("\n", report));
                assertEquals(JOB, values.get("job"));
                assertEquals("shop", values.get("app"));

                for (Query q : dashboard.queries()) {
                    Duration step = view.step(q);
                    String expr = view.substitute(q.expr(), step);
                    JsonArray result = q.kind() == Kind.INSTANT ? prom.query(expr, to)
                            : prom.queryRange(expr, view.rangeStart(step), view.rangeEnd(step), step);
                    int numeric = numericSeries(result);
                    report.add(String.format("%-10s %-45s %-10s %2d series (%d with a number)  %s",
                            q.kind().name().toLowerCase(), "'" + q.panel() + "'", q.refId(), result.size(), numeric,
                            expr));
                    if (numeric == 0) {
                        failures.add("panel '" + q.panel() + "' (" + q.refId() + "): " + (result.isEmpty()
                                ? "no series" : "only NaN") + " from " + expr);
                    }
                }
                // Alert expressions: the same expression Prometheus evaluates for the rule (as /api/v1/rules reports
                // it), at the end of the range. Each condition was made true above: n3 off its app's majority
                // digest (its failed deploy), n4 not scraped (stopped), a node deploy failed (n3).
                for (Map.Entry<String, String> rule : alertRules(prom).entrySet()) {
                    JsonArray result = prom.query(rule.getValue(), to);
                    report.add(String.format("%-10s %-45s %-10s %2d series (%d with a number)  %s", "alert",
                            "'" + rule.getKey() + "'", "expr", result.size(), numericSeries(result),
                            rule.getValue().replaceAll("\\s+", " ")));
                    if (numericSeries(result) == 0) {
                        failures.add("alert " + rule.getKey() + ": no series from " + rule.getValue());
                    }
                }
                System.out.println("RealPrometheusTest: the dashboard's queries and the alert rules on Prometheus "
                        + prom.base() + " (range " + from + " .. " + to + ", $__interval " + view.interval()
                        + ", $__rate_interval " + view.rateInterval() + "):\n  " + String.join("\n  ", report));
                assertEquals(List.of(), failures, "queries that returned nothing:\n" + String.join("\n", report));
                assertTrue(prom.process().isAlive(), "prometheus still runs until the harness stops it");
            }
        }
    }

    private static Artifact wheel(Path dir, String name, String version, FakeMirror... on) throws Exception {
        Path w = TestWheels.wheel(name, version).file(name.replace('-', '_') + "/__init__.py", "V = '" + version + "'\n")
                .build(Files.createDirectories(dir.resolve(name + "-" + version)));
        for (FakeMirror m : on) {
            m.put(w.getFileName().toString(), Files.readAllBytes(w));
        }
        return TestWheels.wheelArtifact(w);
    }

    private static DeployReport deploy(TestFleet fleet, Agent agent, long serial, Artifact... artifacts) {
        return fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", serial, List.of(artifacts)).build())).report();
    }

    /** The alerting rules Prometheus loaded (name → query), each of them healthy. */
    private static Map<String, String> alertRules(PrometheusServer prom) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonElement g : prom.api("rules", Map.of("type", "alert")).getAsJsonObject().getAsJsonArray("groups")) {
            for (JsonElement r : g.getAsJsonObject().getAsJsonArray("rules")) {
                JsonObject rule = r.getAsJsonObject();
                String name = rule.get("name").getAsString();
                assertEquals("ok", rule.get("health").getAsString(), name + ": " + rule);
                out.put(name, rule.get("query").getAsString());
            }
        }
        assertFalse(out.isEmpty(), "prometheus loaded no alerting rule from " + RULES);
        return out;
    }

    /** Values of label_values(selector, label) over the range, sorted as Grafana's "sort: 1" does. */
    private static Set<String> labelValuesOf(PrometheusServer prom, GrafanaDashboard.View view, String query,
            Instant from, Instant to) throws Exception {
        Matcher m = LABEL_VALUES.matcher(query.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("a variable query this test does not know: " + query);
        }
        String start = String.valueOf(from.getEpochSecond());
        String end = String.valueOf(to.getEpochSecond());
        Set<String> out = new TreeSet<>();
        if (m.group(1) == null) {
            prom.api("label/" + m.group(2) + "/values", Map.of("start", start, "end", end)).getAsJsonArray()
                    .forEach(v -> out.add(v.getAsString()));
        } else {
            String selector = view.substitute(m.group(1), view.interval());
            for (JsonElement s : prom.api("series", Map.of("match[]", selector, "start", start, "end", end))
                    .getAsJsonArray()) {
                JsonElement v = s.getAsJsonObject().get(m.group(2));
                if (v != null) {
                    out.add(v.getAsString());
                }
            }
        }
        return out;
    }

    /** Series of an instant or range result with at least one value that is a number (not NaN). */
    static int numericSeries(JsonArray result) {
        int n = 0;
        for (JsonElement e : result) {
            JsonObject s = e.getAsJsonObject();
            List<JsonElement> points = new ArrayList<>();
            if (s.has("value")) {
                points.add(s.get("value"));
            }
            if (s.has("values")) {
                s.getAsJsonArray("values").forEach(points::add);
            }
            if (points.stream().anyMatch(p -> !p.getAsJsonArray().get(1).getAsString().equals("NaN"))) {
                n++;
            }
        }
        return n;
    }

    /** An instant vector as label value → sample value. */
    private static Map<String, Double> valuesBy(JsonArray result, String label) {
        Map<String, Double> out = new LinkedHashMap<>();
        result.forEach(s -> out.put(s.getAsJsonObject().getAsJsonObject("metric").get(label).getAsString(),
                Double.parseDouble(s.getAsJsonObject().getAsJsonArray("value").get(1).getAsString())));
        return out;
    }

    private static Set<String> labelValues(JsonArray result, String label) {
        Set<String> out = new TreeSet<>();
        result.forEach(s -> out.add(s.getAsJsonObject().getAsJsonObject("metric").get(label).getAsString()));
        return out;
    }
}

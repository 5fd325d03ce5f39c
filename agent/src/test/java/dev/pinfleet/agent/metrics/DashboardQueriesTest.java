package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.DashboardCheck;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.GrafanaDashboard;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Outcome;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every agent metric (and every label it matches on) that the Grafana dashboard {@code ansible/files/grafana/pinfleet.json}
 * queries is one a real agent exports after a real deploy (the controller's are ControllerMetricsTest's); with promtool on PATH, every query also parses as PromQL.
 */
class DashboardQueriesTest {
    static final Path DASHBOARD = Path.of("..", "ansible", "files", "grafana", "pinfleet.json");
    private static final Pattern IDENT = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern SELECTOR = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{([^}]*)}");
    private static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)");
    private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without", "on",
            "ignoring", "group_left", "group_right", "inf", "nan", "atan2");
    /** Series Prometheus itself makes for every target (no agent exports them). */
    private static final Set<String> PROMETHEUS_SERIES = Set.of("up");
    /** Labels Prometheus adds to every scraped series. */
    private static final Set<String> TARGET_LABELS = Set.of("job", "instance");

    @TempDir Path dir;

    /** Grafana variables replaced by values that keep the query valid PromQL. */
    static String withVariables(String expr) {
        return expr.replaceAll("\\$__(range_s|interval_ms)", "300").replaceAll("\\$__(rate_interval|interval|range)", "5m")
                .replaceAll("\\$\\{?[a-zA-Z_]\\w*}?", "x");
    }

    /** Metric names a PromQL query reads (label_values(metric, label) reads metric). */
    static Set<String> metricNames(String query) {
        String q = withVariables(query).replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"").replaceAll("'[^']*'", "''");
        q = q.replaceAll("\\{[^}]*}", " ").replaceAll("\\[[^]]*]", " ")
                .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ")
                .replaceAll("label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*(,[^)]*)?\\)", " $1 ");
        Set<String> out = new TreeSet<>();
        Matcher m = IDENT.matcher(q);
        while (m.find()) {
            String name = m.group();
            boolean call = q.substring(m.end()).matches("(?s)\\s*\\(.*");
            boolean afterDigit = m.start() > 0 && (Character.isDigit(q.charAt(m.start() - 1)) || q.charAt(m.start() - 1) == '.');
            if (!call && !afterDigit && !KEYWORDS.contains(name.toLowerCase())) {
                out.add(name);
            }
        }
        return out;
    }

    /** Every PromQL string of the dashboard: panel targets, annotation queries and the query variables' queries. */
    static List<String> queries(Path dashboard) throws Exception {
        return GrafanaDashboard.load(dashboard).allExprs();
    }

    @Test
    void theNameExtractionSeesMetricsOnly() {
        assertEquals(Set.of("foo_bucket", "bar"), metricNames("histogram_quantile(0.99, sum by (le, phase) "
                + "(rate(foo_bucket{job=~\"$job\",a=\"b{c}\"}[$__rate_interval]))) / on (x) group_left max by (x) (bar) > 0"));
        assertEquals(Set.of("pinfleet_app_serial"), metricNames("label_values(pinfleet_app_serial{job=~\"$job\"}, app)"));
        assertEquals(Set.of("up"), metricNames("count(up == 1) or 0 * 1e3"));
    }

    @Test
    void everyQueriedMetricAndLabelIsExportedByARealAgent() throws Exception {
        assertTrue(Files.isRegularFile(DASHBOARD), DASHBOARD.toAbsolutePath() + " is missing");
        List<String> queries = queries(DASHBOARD);
        assertTrue(queries.size() >= 15, "queries found: " + queries.size());
        String all = String.join("\n", queries);
        for (String needed : new String[] {"histogram_quantile(0.5, sum by (le, phase)",
            "histogram_quantile(0.99, sum by (le, phase)", "pinfleet_deploy_phase_seconds_bucket", "pinfleet_app_serial",
            "sum by (reason) (increase(pinfleet_deploy_failures_total", "sum by (source) (rate(pinfleet_artifact_bytes_total",
            "pinfleet_artifacts_total{job=~\"$job\",source=\"store\"}"}) {
            assertTrue(all.contains(needed), "the dashboard has no query with: " + needed);
        }

        Scrape scrape;
        try (FakeMirror mirror = FakeMirror.start(); TestFleet fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri())) {
            Path wheel = TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "V = 1\n")
                    .build(Files.createDirectories(dir.resolve("wheels")));
            mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
            Artifact a = TestWheels.wheelArtifact(wheel);
            Agent agent = fleet.start("n1", Map.of("metrics-listen", "127.0.0.1:0"));
            assertEquals(Outcome.OK, fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 1, List.of(a)).build()))
                    .report().getOutcome());
            scrape = Scrape.of(agent.metricsPort());
        }
        Map<String, Set<String>> labelsByName = new TreeMap<>();
        for (Scrape.Sample s : scrape.samples()) {
            labelsByName.computeIfAbsent(s.name(), k -> new TreeSet<>(TARGET_LABELS)).addAll(s.labels().keySet());
        }
        Map<String, String> missing = new LinkedHashMap<>();
        for (String q : queries) {
            if (DashboardCheck.CONTROLLER_METRIC.matcher(q).find()) {
                continue; // the controller's: ControllerMetricsTest evaluates them on a real Prometheus
            }
            for (String name : metricNames(q)) {
                if (!labelsByName.containsKey(name) && !PROMETHEUS_SERIES.contains(name)) {
                    missing.put(name, q);
                }
            }
            Matcher sel = SELECTOR.matcher(withVariables(q));
            while (sel.find()) {
                if (PROMETHEUS_SERIES.contains(sel.group(1))) {
                    continue;
                }
                Matcher l = MATCHER.matcher(sel.group(2).replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\""));
                while (l.find()) {
                    if (!labelsByName.getOrDefault(sel.group(1), Set.of()).contains(l.group(1))) {
                        missing.put(sel.group(1) + "{" + l.group(1) + "}", q);
                    }
                }
            }
        }
        assertEquals(Map.of(), missing, "queried by the dashboard but not exported by the agent (name -> query)");

        Path promtool = promtool();
        if (promtool != null) {
            StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
            for (int i = 0; i < queries.size(); i++) {
                rules.append("      - record: dashboard:query").append(i).append("\n        expr: '")
                        .append(withVariables(queries.get(i)).replaceAll("^label_values\\((.*),\\s*\\w+\\)$", "$1")
                                .replace("'", "''")).append("'\n");
            }
            Path file = Files.writeString(dir.resolve("dashboard-rules.yml"), rules, StandardCharsets.UTF_8);
            Process p = new ProcessBuilder(promtool.toString(), "check", "rules", file.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool check rules timed out");
            assertEquals(0, p.exitValue(), "the dashboard's queries do not all parse as PromQL:\n" + out);
        } else {
            System.out.println("promtool not on PATH: PromQL syntax of the dashboard not checked");
        }
    }

    private static Path promtool() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "promtool"))) {
                return Path.of(d, "promtool");
            }
        }
        return null;
    }
}

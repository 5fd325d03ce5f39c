package dev.pinfleet.agent.testing;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.pinfleet.agent.testing.GrafanaDashboard.Kind;
import dev.pinfleet.agent.testing.GrafanaDashboard.Query;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Evaluates a Grafana dashboard and the alerting rules a Prometheus server loaded through that server's HTTP API, as
 * Grafana and Prometheus would: variables resolved first ({@code label_values} as a series lookup, the first value
 * chosen), panel targets as instant or range queries (range aligned to the step), annotations as range queries with
 * their "Min step", alert expressions as Prometheus reports them in {@code /api/v1/rules}. Each must return at least
 * one series with a number (not only NaN); the report lists every one with its count of series.
 */
public final class DashboardCheck {
    /**
     * The controller's metric names (pinfleet_rollout*, pinfleet_app_last_(successful|failed)_rollout*, pinfleet_fleet_*); the
     * rest are agents'.
     */
    public static final Pattern CONTROLLER_METRIC = Pattern.compile("\\bpinfleet_(rollout|app_last_(?:successful|failed)_rollout|fleet_)");
    /** Queries of the controller's metrics (the Rollouts row and its annotation). */
    public static final Predicate<Query> READS_CONTROLLER = q -> CONTROLLER_METRIC.matcher(q.expr()).find();
    /** The rule group of the controller's alerts in pinfleet-alerts.yml. */
    public static final String CONTROLLER_RULES = "pinfleet-controller";
    private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\((?:(.*),\\s*)?(\\w+)\\)");

    /** One line per variable, query and alert; the failures name the panel (or variable, or alert) and query. */
    public record Result(List<String> report, List<String> failures, Map<String, String> variables) {
        public String text() {
            return "  " + String.join("\n  ", report);
        }
    }

    private DashboardCheck() {}

    /**
     * Evaluates the {@code include}d queries of {@code dashboard} for the view from {@code from} to {@code to}
     * (Grafana's data source "Scrape interval" {@code scrapeInterval}, 1000 data points), and the alerting rules of the
     * groups {@code ruleGroups} accepts, at {@code to}.
     */
    public static Result run(PrometheusServer prom, GrafanaDashboard dashboard, Instant from, Instant to,
            Duration scrapeInterval, Predicate<Query> include, Predicate<String> ruleGroups)
            throws IOException, InterruptedException {
        Map<String, String> values = new LinkedHashMap<>();
        GrafanaDashboard.View view = new GrafanaDashboard.View(from, to, scrapeInterval, 1000, values);
        List<String> report = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        report.add("range " + from + " .. " + to + ", $__interval " + view.interval() + ", $__rate_interval "
                + view.rateInterval());
        // Variables first, in order, as Grafana resolves them; later variables and queries use the chosen value.
        for (GrafanaDashboard.Variable v : dashboard.variables()) {
            Set<String> found = labelValues(prom, view, v.query());
            report.add(String.format("variable   $%-44s %2d values %s", v.name(), found.size(), found));
            if (found.isEmpty()) {
                failures.add("variable $" + v.name() + ": no values from " + v.query());
                return new Result(report, failures, values);
            }
            values.put(v.name(), found.iterator().next());
        }
        for (Query q : dashboard.queries()) {
            if (!include.test(q)) {
                continue;
            }
            Duration step = view.step(q);
            String expr = view.substitute(q.expr(), step);
            JsonArray result = q.kind() == Kind.INSTANT ? prom.query(expr, to)
                    : prom.queryRange(expr, view.rangeStart(step), view.rangeEnd(step), step);
            line(report, failures, q.kind().name().toLowerCase(), "panel '" + q.panel() + "' (" + q.refId() + ")",
                    result, expr);
        }
        for (Map.Entry<String, String> rule : alertRules(prom, ruleGroups).entrySet()) {
            line(report, failures, "alert", rule.getKey(), prom.query(rule.getValue(), to),
                    rule.getValue().replaceAll("\\s+", " "));
        }
        return new Result(report, failures, values);
    }

    private static void line(List<String> report, List<String> failures, String kind, String what, JsonArray result,
            String expr) {
        int numeric = numericSeries(result);
        report.add(String.format("%-10s %-45s %2d series (%d with a number)  %s", kind, what, result.size(), numeric,
                expr));
        if (numeric == 0) {
            failures.add(what + ": " + (result.isEmpty() ? "no series" : "only NaN") + " from " + expr);
        }
    }

    /** The alerting rules Prometheus loaded in the groups {@code groups} accepts (name → query); each must be healthy. */
    public static Map<String, String> alertRules(PrometheusServer prom, Predicate<String> groups)
            throws IOException, InterruptedException {
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonElement g : prom.api("rules", Map.of("type", "alert")).getAsJsonObject().getAsJsonArray("groups")) {
            if (!groups.test(g.getAsJsonObject().get("name").getAsString())) {
                continue;
            }
            for (JsonElement r : g.getAsJsonObject().getAsJsonArray("rules")) {
                JsonObject rule = r.getAsJsonObject();
                String name = rule.get("name").getAsString();
                if (!"ok".equals(rule.get("health").getAsString())) {
                    throw new AssertionError("alert rule " + name + " is not healthy in Prometheus: " + rule);
                }
                out.put(name, rule.get("query").getAsString());
            }
        }
        return out;
    }

    /** Values of label_values([selector, ]label) over the view's range, sorted as Grafana's "sort: 1" does. */
    private static Set<String> labelValues(PrometheusServer prom, GrafanaDashboard.View view, String query)
            throws IOException, InterruptedException {
        Matcher m = LABEL_VALUES.matcher(query.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("a variable query this check does not know: " + query);
        }
        Map<String, String> range = Map.of("start", String.valueOf(view.from().getEpochSecond()),
                "end", String.valueOf(view.to().getEpochSecond() + 1));
        Set<String> out = new TreeSet<>();
        if (m.group(1) == null) {
            prom.api("label/" + m.group(2) + "/values", range).getAsJsonArray().forEach(v -> out.add(v.getAsString()));
            return out;
        }
        Map<String, String> params = new LinkedHashMap<>(range);
        params.put("match[]", view.substitute(m.group(1), view.interval()));
        for (JsonElement s : prom.api("series", params).getAsJsonArray()) {
            JsonElement v = s.getAsJsonObject().get(m.group(2));
            if (v != null) {
                out.add(v.getAsString());
            }
        }
        return out;
    }

    /** Series of an instant or range result with at least one value that is a number (not NaN). */
    public static int numericSeries(JsonArray result) {
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
    public static Map<String, Double> valuesBy(JsonArray result, String label) {
        Map<String, Double> out = new LinkedHashMap<>();
        result.forEach(s -> out.put(s.getAsJsonObject().getAsJsonObject("metric").get(label).getAsString(),
                Double.parseDouble(s.getAsJsonObject().getAsJsonArray("value").get(1).getAsString())));
        return out;
    }
}

package dev.pinfleet.agent.testing;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The PromQL of a Grafana dashboard JSON (panel targets, annotation queries, query variables), and the substitution
 * of Grafana's variables as Grafana does it before sending a query to Prometheus.
 */
public record GrafanaDashboard(List<Query> queries, List<Variable> variables) {
    /** How Grafana sends a query: an instant query, a range query (graphs), or an annotation (a range query). */
    public enum Kind { INSTANT, RANGE, ANNOTATION }

    /**
     * One target of a panel ({@code panel} is its title, {@code refId} its letter, {@code row} the title of the row
     * it sits in, empty above the first row) or one annotation query ({@code panel} is the annotation's name, no
     * row); {@code minStep} is an annotation's "Min step", else zero.
     */
    public record Query(String row, String panel, String refId, String expr, Kind kind, Duration minStep) {}

    /** A query variable: its name and its {@code label_values(...)} query. */
    public record Variable(String name, String query) {}

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Pattern USER_VARIABLE = Pattern.compile("\\$(?:\\{(\\w+)}|(\\w+))");

    public static GrafanaDashboard load(Path file) throws IOException {
        JsonObject root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonObject();
        List<Query> queries = new ArrayList<>();
        collectPanels(root.getAsJsonArray("panels"), "", queries);
        for (JsonElement a : root.getAsJsonObject("annotations").getAsJsonArray("list")) {
            JsonObject an = a.getAsJsonObject();
            if (an.has("expr")) {
                queries.add(new Query("", an.get("name").getAsString(), "annotation", an.get("expr").getAsString(),
                        Kind.ANNOTATION, an.has("step") ? duration(an.get("step").getAsString()) : Duration.ofMinutes(1)));
            }
        }
        List<Variable> variables = new ArrayList<>();
        for (JsonElement v : root.getAsJsonObject("templating").getAsJsonArray("list")) {
            JsonObject var = v.getAsJsonObject();
            if (var.get("type").getAsString().equals("query")) {
                JsonElement q = var.get("query");
                variables.add(new Variable(var.get("name").getAsString(),
                        q.isJsonObject() ? q.getAsJsonObject().get("query").getAsString() : q.getAsString()));
            }
        }
        return new GrafanaDashboard(List.copyOf(queries), List.copyOf(variables));
    }

    private static void collectPanels(JsonArray panels, String row, List<Query> out) {
        String currentRow = row;
        for (JsonElement p : panels) {
            JsonObject panel = p.getAsJsonObject();
            if (panel.get("type").getAsString().equals("row")) {
                currentRow = panel.get("title").getAsString();
                if (panel.has("panels")) { // a collapsed row holds its panels
                    collectPanels(panel.getAsJsonArray("panels"), currentRow, out);
                }
                continue;
            }
            if (!panel.has("targets")) {
                continue;
            }
            for (JsonElement t : panel.getAsJsonArray("targets")) {
                JsonObject target = t.getAsJsonObject();
                boolean instant = target.has("instant") && target.get("instant").getAsBoolean()
                        && !(target.has("range") && target.get("range").getAsBoolean());
                out.add(new Query(currentRow, panel.get("title").getAsString(), target.get("refId").getAsString(),
                        target.get("expr").getAsString(), instant ? Kind.INSTANT : Kind.RANGE, Duration.ZERO));
            }
        }
    }

    /** Every PromQL string: panel targets, annotation queries and variable queries. */
    public List<String> allExprs() {
        List<String> out = new ArrayList<>();
        queries.forEach(q -> out.add(q.expr()));
        variables.forEach(v -> out.add(v.query()));
        return out;
    }

    /** A Grafana duration ("15s", "1m", "500ms"). */
    public static Duration duration(String text) {
        Matcher m = DURATION.matcher(text.strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("not a Grafana duration: " + text);
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    /**
     * What Grafana computes for one view of the dashboard: the time range, the data source's scrape interval (its
     * "Scrape interval" setting, the lower bound of {@code $__interval}), the panel's data points, and the value
     * chosen for each variable.
     */
    public record View(Instant from, Instant to, Duration scrapeInterval, int maxDataPoints,
            Map<String, String> values) {
        /** {@code $__interval}: the range over the data points, never below the scrape interval. */
        public Duration interval() {
            Duration byPoints = Duration.ofMillis(Math.max(1, Duration.between(from, to).toMillis() / maxDataPoints));
            return byPoints.compareTo(scrapeInterval) < 0 ? scrapeInterval : byPoints;
        }

        /** {@code $__rate_interval} = max({@code $__interval} + scrape interval, 4 × scrape interval), as Grafana. */
        public Duration rateInterval() {
            Duration a = interval().plus(scrapeInterval);
            Duration b = scrapeInterval.multipliedBy(4);
            return a.compareTo(b) > 0 ? a : b;
        }

        /** The step of a query: {@code $__interval} for panels, at least the "Min step" for annotations. */
        public Duration step(Query q) {
            return q.minStep().compareTo(interval()) > 0 ? q.minStep() : interval();
        }

        /** The start of a range query with {@code step}: Grafana aligns it down to a multiple of the step. */
        public Instant rangeStart(Duration step) {
            long ms = step.toMillis();
            return Instant.ofEpochMilli(Math.floorDiv(from.toEpochMilli(), ms) * ms);
        }

        /** The end of a range query with {@code step}: Grafana aligns it up to a multiple of the step. */
        public Instant rangeEnd(Duration step) {
            long ms = step.toMillis();
            return Instant.ofEpochMilli(-Math.floorDiv(-to.toEpochMilli(), ms) * ms);
        }

        /**
         * {@code expr} with Grafana's variables replaced: the built-in ones ({@code $__interval} being
         * {@code step}), and user variables by their chosen value, regex-escaped as Grafana formats a variable
         * for Prometheus; an unknown variable fails.
         */
        public String substitute(String expr, Duration step) {
            String s = expr.replace("$__rate_interval", promDuration(rateInterval()))
                    .replace("$__interval_ms", String.valueOf(step.toMillis()))
                    .replace("$__interval", promDuration(step))
                    .replace("$__range_s", String.valueOf(rangeSeconds()))
                    .replace("$__range", rangeSeconds() + "s");
            Matcher m = USER_VARIABLE.matcher(s);
            StringBuilder out = new StringBuilder();
            while (m.find()) {
                String name = m.group(1) != null ? m.group(1) : m.group(2);
                String value = values.get(name);
                if (value == null) {
                    throw new IllegalArgumentException("no value for Grafana variable $" + name + " in: " + expr);
                }
                m.appendReplacement(out, Matcher.quoteReplacement(
                        value.replaceAll("[\\\\^$.|?*+()\\[\\]{}]", "\\\\$0").replace("\\", "\\\\")));
            }
            m.appendTail(out);
            return out.toString();
        }

        /** The time range in whole seconds, rounded as Grafana rounds {@code $__range}. */
        private long rangeSeconds() {
            return Math.round(Duration.between(from, to).toMillis() / 1000.0);
        }

        private static String promDuration(Duration d) {
            return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
        }
    }
}

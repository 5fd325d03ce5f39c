package dev.pinfleet.agent.metrics;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One real scrape of an agent's {@code /metrics}, parsed from the Prometheus text format 0.0.4. */
record Scrape(String contentType, String text, List<Sample> samples) {
    private static final Pattern LINE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?\\s+(\\S+)(\\s+\\d+)?");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

    /** One sample line: series name, labels, value. */
    record Sample(String name, Map<String, String> labels, double value) {}

    /** GET http://127.0.0.1:PORT/metrics. */
    static Scrape of(int port) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (r.statusCode() != 200) {
            throw new IOException("GET /metrics answered " + r.statusCode() + ": " + r.body());
        }
        return parse(r.headers().firstValue("Content-Type").orElse(""), r.body());
    }

    static Scrape parse(String contentType, String text) {
        List<Sample> out = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = LINE.matcher(line);
            if (!m.matches()) {
                throw new IllegalArgumentException("not a sample line: " + line);
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(3) != null) {
                Matcher l = LABEL.matcher(m.group(3));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            out.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(4).replace("+Inf", "Infinity"))));
        }
        return new Scrape(contentType, text, out);
    }

    /** Names of every series (histogram series as {@code _bucket}, {@code _count}, {@code _sum}). */
    Set<String> names() {
        Set<String> n = new TreeSet<>();
        samples.forEach(s -> n.add(s.name()));
        return n;
    }

    /** The value of the one series with this name and exactly these labels (key, value, key, value …). */
    double value(String name, String... labels) {
        Map<String, String> want = new LinkedHashMap<>();
        for (int i = 0; i < labels.length; i += 2) {
            want.put(labels[i], labels[i + 1]);
        }
        List<Sample> hits = samples.stream().filter(s -> s.name().equals(name) && s.labels().equals(want)).toList();
        if (hits.size() != 1) {
            throw new AssertionError(hits.size() + " series " + name + want + " in the scrape; the "
                    + name + " series are: " + samples.stream().filter(s -> s.name().equals(name)).toList());
        }
        return hits.get(0).value();
    }

    /** Lines of the scrape that start with {@code prefix}. */
    List<String> lines(String prefix) {
        return text.lines().filter(l -> l.startsWith(prefix)).toList();
    }

    /**
     * Runs {@code promtool check metrics} (Debian package {@code prometheus}) on the text; null when promtool is
     * not on PATH, else its exit status and output.
     */
    String promtool(Path dir) throws IOException, InterruptedException {
        Path tool = null;
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "promtool"))) {
                tool = Path.of(d, "promtool");
                break;
            }
        }
        if (tool == null) {
            return null;
        }
        Path in = Files.writeString(dir.resolve("scrape.prom"), text, StandardCharsets.UTF_8);
        Process p = new ProcessBuilder(tool.toString(), "check", "metrics").redirectErrorStream(true)
                .redirectInput(in.toFile()).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("promtool check metrics did not finish within 30 s");
        }
        return "exit " + p.exitValue() + (output.isBlank() ? "" : ": " + output.strip());
    }
}

package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.DashboardCheck;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.GrafanaDashboard;
import dev.pinfleet.agent.testing.PrometheusServer;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The served controller's {@code /metrics} after real rollouts (one failed at a node whose mirror lacks a wheel, then
 * restored by the next rollout): what the records say, in a text {@code promtool check metrics} accepts; and the
 * Grafana dashboard's Rollouts row, its rollout annotation and the controller's alert rule, evaluated by Debian's real
 * Prometheus scraping the controller and the agents.
 */
class ControllerMetricsTest {
    static final Path ANSIBLE = Path.of("..", "ansible", "files");
    static final Path PROMTOOL = Path.of("/usr/bin/promtool");
    /** The scrape and rule evaluation interval, and so Grafana's "Scrape interval" for the data source. */
    static final Duration INTERVAL = Duration.ofSeconds(1);
    /** A bound on waits that end as soon as their condition holds; generous for a busy 2-core box. */
    static final Duration WAIT = Duration.ofSeconds(90);
    static final Predicate<String> CONTROLLER_RULES = group -> group.equals(DashboardCheck.CONTROLLER_RULES);
    private static final Pattern SAMPLE = Pattern.compile("(?m)^([a-z_]+)\\{([^}]*)} (\\S+)$");

    @TempDir Path dir;
    FleetHarness h;
    FakeMirror old;
    ServedController served;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        // web3's mirror has the first release's wheels only: its deploy of mypkg 2.0 fails (fetch/not-found).
        old = FakeMirror.start();
        for (var a : List.of(h.core, h.app1)) {
            old.put(a.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(a.getFilename())));
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
        old.close();
        h.close();
    }

    @Test
    void rolloutsAreCountedFromTheRecordsAndEveryDashboardQueryAndAlertReturnsSeries() throws Exception {
        assumeTrue(Files.isExecutable(PrometheusServer.BINARY) && Files.isExecutable(PROMTOOL), "Debian's prometheus"
                + " package is not installed (./install-deps.sh installs it): the controller's metrics were not"
                + " checked");
        Map<String, String> metrics = Map.of("metrics-listen", "127.0.0.1:0");
        Agent web1 = h.start("web1", metrics);
        Agent web2 = h.start("web2", metrics);
        Agent web3 = h.start("web3", Map.of("metrics-listen", "127.0.0.1:0", "mirrors", old.baseUri().toString()));
        served = ServedController.start(h, dir.resolve("controller"), dir.resolve("records.db").toString());
        Instant from = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        List<String> agents = new ArrayList<>();
        for (Agent a : List.of(web1, web2, web3)) {
            agents.add("127.0.0.1:" + a.metricsPort());
        }
        try (PrometheusServer prom = PrometheusServer.start(dir.resolve("prometheus"), INTERVAL,
                List.of(ANSIBLE.resolve("prometheus/pinfleet-alerts.yml")), Map.of("pinfleet-agent", agents,
                        "pinfleet-controller", List.of("127.0.0.1:" + served.metricsPort())))) {
            prom.await("the controller and every agent scraped at least twice",
                    "count(count_over_time(up[1m]) >= 2) == 4", r -> r.size() == 1, WAIT);

            // Prometheus never sees a counter's first count (a series' first sample has nothing before it), and on a
            // quiet machine these one-wheel rollouts end within one 1 s scrape of each other. Real rollouts are spaced
            // by more than a scrape interval; so is each one here: Prometheus has scraped the count of the one before
            // it (the wait is for a state, bounded by WAIT), so the next one is an increase the outcome panels and
            // the rollout annotation see. The failed-rollout alert reads a timestamp and needs no such spacing.
            h.deploy(h.signed(h.manifest(1, h.app1)), served.as("alice"), 0);
            prom.await("the first rollout scraped", "sum(pinfleet_rollouts_total{job=\"pinfleet-controller\"}) == 1",
                    r -> r.size() == 1, WAIT);
            FleetReport failed = h.deploy(h.signed(h.manifest(2, h.app2)), served.as("alice"), 1);
            prom.await("the failed rollout scraped", "sum(pinfleet_rollouts_total{job=\"pinfleet-controller\"}) == 2",
                    r -> r.size() == 1, WAIT);
            NodeReport w3 = failed.getNodesList().stream().filter(n -> n.getNode().equals("web3")).findFirst()
                    .orElseThrow();
            assertEquals(NodeOutcome.NODE_FAILED, w3.getOutcome(), w3.toString());
            // Restores: serial 3 carries the first release's content; every node (web3 too) can run it.
            h.deploy(h.signed(h.manifest(3, h.app1)), served.as("alice"), 0);

            // The records as the controller's /metrics tells them, in a text promtool accepts.
            String text = scrape(served.metricsPort());
            assertEquals(2.0, value(text, "pinfleet_rollouts_total", "kind=\"deploy\",outcome=\"succeeded\""), text);
            assertEquals(1.0, value(text, "pinfleet_rollouts_total", "kind=\"deploy\",outcome=\"failed\""), text);
            assertEquals(0.0, value(text, "pinfleet_rollouts_total", "kind=\"rollback\",outcome=\"succeeded\""), text);
            assertEquals(1.0, value(text, "pinfleet_rollout_restore_seconds_count", ""), text);
            assertEquals(3.0, value(text, "pinfleet_rollout_duration_seconds_count", ""), text);
            assertEquals(0.0, value(text, "pinfleet_rollouts_active", "state=\"running\""), text);
            double lastSuccess = value(text, "pinfleet_app_last_successful_rollout_timestamp_seconds", "");
            double lastFailure = value(text, "pinfleet_app_last_failed_rollout_timestamp_seconds", "");
            assertTrue(lastFailure > 1.7e9 && lastSuccess >= lastFailure, text);
            assertTrue(text.lines().noneMatch(l -> l.contains("node=") || l.contains("rollout=")
                    || l.contains("operator=")), "no node, rollout or operator label:\n" + text);
            promtoolCheckMetrics(text);
            long series = text.lines().filter(l -> l.startsWith("pinfleet_")).count();
            System.out.println("ControllerMetricsTest: the controller's scrape holds " + series
                    + " pinfleet_* series for one app in one environment");

            prom.await("the controller's counts scraped",
                    "sum(pinfleet_rollouts_total{job=\"pinfleet-controller\"}) == 3", r -> r.size() == 1, WAIT);
            prom.await("the restore scraped",
                    "sum(pinfleet_rollout_restore_seconds_count{job=\"pinfleet-controller\"}) == 1",
                    r -> r.size() == 1, WAIT);
            // The controller's Status poll: every node on the restoring rollout's digest.
            prom.await("the version spread scraped", "sum(pinfleet_fleet_release_nodes{job=\"pinfleet-controller\"}) == 3",
                    r -> r.size() == 1, WAIT);
            Set<String> alerts = DashboardCheck.alertRules(prom, CONTROLLER_RULES).keySet();
            assertEquals(Set.of("PinfleetRolloutFailed"), alerts);
            prom.await("the failed rollout alerting", "count by (alertname) (ALERTS{alertname=\"PinfleetRolloutFailed\"})",
                    r -> r.size() == 1, WAIT);

            Instant to = Instant.now();
            GrafanaDashboard dashboard = GrafanaDashboard.load(ANSIBLE.resolve("grafana/pinfleet.json"));
            // The Rollouts row and the rollout annotation (the agent panels are RealPrometheusTest's, in the agent
            // module, where a stopped agent and a node off its app's majority make every one of them non-empty).
            DashboardCheck.Result check = DashboardCheck.run(prom, dashboard, from, to, INTERVAL,
                    DashboardCheck.READS_CONTROLLER, CONTROLLER_RULES);
            System.out.println("ControllerMetricsTest: the dashboard's queries and the controller's alert rules on"
                    + " Prometheus " + prom.base() + ":\n" + check.text());
            assertEquals(List.of(), check.failures(), "queries that returned nothing:\n" + check.text());
        }
    }

    @Test
    void theRecordDerivedCountersSurviveARestartOnTheSameDatabase() throws Exception {
        h.start("web1", Map.of());
        h.start("web2", Map.of());
        h.start("web3", Map.of("mirrors", old.baseUri().toString()));
        served = ServedController.start(h, dir.resolve("controller"), dir.resolve("records.db").toString());
        h.deploy(h.signed(h.manifest(1, h.app1)), served.as("alice"), 0);
        h.deploy(h.signed(h.manifest(2, h.app2)), served.as("alice"), 1); // web3 fails: a failed deploy
        h.deploy(h.signed(h.manifest(3, h.app1)), served.as("alice"), 0); // restores it
        List<String> rollback = new ArrayList<>(List.of("rollback", "--inventory", h.inventory("").toString(),
                "--plaintext", "--app", "shop", "--to", "1", "--key", h.key.toString(), "-o",
                dir.resolve("rb.signed.json").toString()));
        rollback.addAll(served.as("alice"));
        FleetHarness.Run rb = h.cli(rollback.toArray(String[]::new));
        assertEquals(0, rb.code(), rb.all());

        List<String> before = recordDerived(scrape(served.metricsPort()));
        assertTrue(before.contains("pinfleet_rollouts_total{app=\"shop\",environment=\"\",kind=\"deploy\","
                + "outcome=\"failed\"} 1.0"), String.join("\n", before));
        assertTrue(before.contains("pinfleet_rollouts_total{app=\"shop\",environment=\"\",kind=\"rollback\","
                + "outcome=\"succeeded\"} 1.0"), String.join("\n", before));
        // Restored twice: the failed deploy by the next one, and that one by the rollback (a rollback restores).
        assertEquals(1, before.stream().filter(l -> l.startsWith("pinfleet_rollout_restore_seconds_count")
                && l.endsWith(" 2")).count(), String.join("\n", before));
        assertEquals(137, served.kill(), "SIGKILL");
        served.startProcess();
        // A new process, the same records: the same counts, durations, times to restore and last success.
        assertEquals(before, recordDerived(scrape(served.metricsPort())));
    }

    /**
     * The series the records determine: rollouts by outcome, duration and restore histograms (buckets, counts, sums),
     * last success, active rollouts and their nodes; not the histograms' decaying maxima, nor the Status poll's spread.
     */
    private static List<String> recordDerived(String text) {
        return text.lines().filter(l -> l.startsWith("pinfleet_rollout") || l.startsWith("pinfleet_app_last"))
                .filter(l -> !l.contains("_max{")).sorted().toList();
    }

    private static String scrape(int port) throws Exception {
        return ServedController.scrape(port);
    }

    /** The sum of the samples of {@code name} whose labels contain {@code labels}. */
    private static double value(String text, String name, String labels) {
        double sum = 0;
        boolean found = false;
        Matcher m = SAMPLE.matcher(text);
        while (m.find()) {
            if (m.group(1).equals(name) && m.group(2).contains(labels)) {
                sum += Double.parseDouble(m.group(3));
                found = true;
            }
        }
        assertTrue(found, "no sample " + name + "{" + labels + "}");
        return sum;
    }

    private static void promtoolCheckMetrics(String text) throws Exception {
        Process p = new ProcessBuilder(PROMTOOL.toString(), "check", "metrics").redirectErrorStream(true).start();
        p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool check metrics did not finish");
        assertEquals(0, p.exitValue(), "promtool check metrics on the controller's scrape:\n" + out + "\n" + text);
    }
}

package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.DashboardCheck;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.GrafanaDashboard;
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
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Grafana dashboard's agent panels and the agents' alert rules against Debian's real Prometheus server (the
 * controller's are ControllerMetricsTest's, in the controller module): it scrapes four real agents
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
    /** The agents' rule groups: the controller's rules and panels are ControllerMetricsTest's (it scrapes one). */
    static final Predicate<String> AGENT_RULES = group -> !group.equals(DashboardCheck.CONTROLLER_RULES);

    @TempDir Path dir;

    @Test
    void everyDashboardQueryAndAlertReturnsSeriesFromARealPrometheus() throws Exception {
        assumeTrue(Files.isExecutable(PrometheusServer.BINARY), PrometheusServer.BINARY
                + " is not installed (Debian package prometheus, ./install-deps.sh installs it): the dashboard and"
                + " alert rules were not checked against a real Prometheus");
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
                // The 'Deploys' annotation is changes() of the last deploy's time: Prometheus must have scraped the
                // first deploy's time before the second one replaces it, or (deploys of a few small wheels being
                // faster than a scrape interval) it never sees a change.
                prom.await("every agent's first deploy time scraped",
                        "count(pinfleet_app_last_deploy_timestamp_seconds{job=\"" + JOB + "\"} > 0) == 4",
                        r -> r.size() == 1, WAIT);
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
                        r -> DashboardCheck.valuesBy(r, "digest").equals(spread), WAIT);
                prom.await("n3's failure scraped", "sum(pinfleet_deploy_failures_total{job=\"" + JOB + "\"}) == 1",
                        r -> r.size() == 1, WAIT);
                // Every alert of the shipped rules evaluated by Prometheus itself as pending or firing.
                Set<String> alertNames = DashboardCheck.alertRules(prom, AGENT_RULES).keySet();
                assertEquals(Set.of("PinfleetNodeOffMajorityDigest", "PinfleetAgentNotScraped",
                        "PinfleetNodeDeployFailed"), alertNames);
                prom.await("every alert pending or firing", "count by (alertname) (ALERTS)",
                        r -> DashboardCheck.valuesBy(r, "alertname").keySet().equals(alertNames), WAIT);

                // Every panel target, annotation and variable; the alert expressions as Prometheus evaluates them, at
                // the end of the range. Each alert's condition was made true above: n3 off its app's majority digest
                // (its failed deploy), n4 not scraped (stopped), a node deploy failed (n3).
                Instant to = Instant.now(); // not truncated: the samples awaited above may be from this very second
                DashboardCheck.Result check = DashboardCheck.run(prom, dashboard, from, to, INTERVAL,
                        DashboardCheck.READS_CONTROLLER.negate(), AGENT_RULES);
                System.out.println("RealPrometheusTest: the dashboard's queries and the alert rules on Prometheus "
                        + prom.base() + ":\n" + check.text());
                assertEquals(List.of(), check.failures(), "queries that returned nothing:\n" + check.text());
                assertEquals(Map.of("job", JOB, "app", "shop"), check.variables());
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
}

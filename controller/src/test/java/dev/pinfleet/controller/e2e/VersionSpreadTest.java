package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.controller.metrics.ControllerMetrics;
import dev.pinfleet.controller.metrics.ControllerMetrics.ReleaseNodes;
import dev.pinfleet.controller.service.Agents;
import dev.pinfleet.controller.service.StatusPoller;
import dev.pinfleet.controller.store.Database;
import dev.pinfleet.controller.store.DatabaseUrl;
import dev.pinfleet.controller.store.JdbcRolloutStore;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.metrics.MetricsServer;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller's Status poll against real agents on loopback, triggered by the test (no interval, no clock
 * window): nodes per app by release digest on {@code /metrics}, a digest no node runs any more gone from it, and a
 * serial an agent reports (applied outside these records) raising the next serial NextSerial issues.
 */
class VersionSpreadTest {
    @TempDir Path dir;
    FleetHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    @Test
    void thePollCountsNodesPerDigestAndLearnsTheSerialsAgentsReport() throws Exception {
        h.start(3);
        Path inv = h.inventory("");
        h.deploy(h.signed(h.manifest(1, h.app1)), List.of(), 0);
        h.deploy(h.signed(h.manifest(2, h.app2)), List.of("--limit", "web1"), 0);
        // web3 gets serial 50 from other records (another operator's embedded controller): these records never saw it.
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        StringWriter out = new StringWriter();
        int code = PinfleetCli.run(new String[] {"deploy", h.signed(h.manifest(50, h.app2)).toString(), "--inventory",
                inv.toString(), "--plaintext", "--limit", "web3", "--progress", "plain"}, new PrintWriter(out),
                new PrintWriter(out), Clock.systemUTC(), new Terminal(new BufferedReader(new StringReader("")), false, 120),
                CliContext.of(elsewhere, Map.of()));
        assertEquals(0, code, out.toString());
        String a = ManifestCodec.contentDigest(h.manifest(1, h.app1));
        String b = ManifestCodec.contentDigest(h.manifest(2, h.app2));

        Clock clock = Clock.systemUTC();
        try (RolloutStore store = new JdbcRolloutStore(Database.open(DatabaseUrl.parse(
                dir.resolve(".pinfleet/records.db").toString(), dir), clock), clock);
                ControllerMetrics meters = new ControllerMetrics(store);
                // Two calls in flight at most for three nodes: the third waits for a free slot.
                StatusPoller poller = new StatusPoller(store, new Agents(t -> {
                    throw new AssertionError("plaintext targets need no certificate");
                }), clock, new StatusPoller.Config(Duration.ZERO, 2), meters::releases)) {
            assertEquals(Set.of(new ReleaseNodes("shop", "", a, 1), new ReleaseNodes("shop", "", b, 2)),
                    Set.copyOf(poller.pollOnce()));
            String text = meters.scrape(MetricsServer.CONTENT_TYPE);
            assertTrue(text.contains("pinfleet_fleet_release_nodes{app=\"shop\",digest=\"" + a + "\",environment=\"\"} 1.0"),
                    text);
            assertTrue(text.contains("pinfleet_fleet_release_nodes{app=\"shop\",digest=\"" + b + "\",environment=\"\"} 2.0"),
                    text);
            assertEquals(51, store.issueSerial("shop", 1, clock.millis()).serial(),
                    "one above serial 50, which only web3's agent reported");

            h.deploy(h.signed(h.manifest(52, h.app1)), List.of(), 0);
            assertEquals(List.of(new ReleaseNodes("shop", "", a, 3)), poller.pollOnce());
            String after = meters.scrape(MetricsServer.CONTENT_TYPE);
            assertTrue(after.contains("pinfleet_fleet_release_nodes{app=\"shop\",digest=\"" + a + "\",environment=\"\"} 3.0"),
                    after);
            assertFalse(after.contains(b), "the digest no node runs is gone:\n" + after);
        }
    }
}

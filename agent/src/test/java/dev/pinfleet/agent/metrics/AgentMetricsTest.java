package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real agent on loopback with two real HTTP mirrors, scraped over real HTTP after real deploys. */
class AgentMetricsTest {
    static final String NODE = "metrics-node-7";
    @TempDir Path dir;
    FakeMirror m1;
    FakeMirror m2;
    TestFleet fleet;
    Path wheels;
    Artifact core;
    Artifact app;

    @BeforeEach
    void setUp() throws Exception {
        m1 = FakeMirror.start();
        m2 = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), m1.baseUri(), m2.baseUri());
        wheels = Files.createDirectories(dir.resolve("wheels"));
        core = wheel("core-lib", "1.0", m1);
        app = wheel("mypkg", "1.0", m1);
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        m1.close();
        m2.close();
    }

    private Artifact wheel(String name, String version, FakeMirror on, Reply... script) throws Exception {
        Path w = TestWheels.wheel(name, version).file(name.replace('-', '_') + "/__init__.py", "V = '" + version + "'\n")
                .build(wheels);
        if (on != null) {
            on.put(w.getFileName().toString(), Files.readAllBytes(w), script);
        }
        return TestWheels.wheelArtifact(w);
    }

    private DeployReport deploy(Agent agent, long serial, Artifact... artifacts) {
        return fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", serial, List.of(artifacts)).build())).report();
    }

    @Test
    void deploysFetchesFailuresAndDiskStateAreScraped() throws Exception {
        Agent agent = fleet.start(NODE, Map.of("metrics-listen", "127.0.0.1:0"));
        assertTrue(agent.metricsPort() > 0);

        DeployReport first = deploy(agent, 1, core, app);
        assertEquals(Outcome.OK, first.getOutcome(), first.getError());
        Scrape s = Scrape.of(agent.metricsPort());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", s.contentType());
        assertEquals(1, s.value("pinfleet_deploys_total", "outcome", "ok"));
        assertEquals(0, s.value("pinfleet_deploys_total", "outcome", "failed"));
        assertEquals(2, s.value("pinfleet_artifacts_total", "source", "mirror"));
        assertEquals(0, s.value("pinfleet_artifacts_total", "source", "store"));
        assertEquals(core.getSize() + app.getSize(), s.value("pinfleet_artifact_bytes_total", "source", "mirror"));
        for (String phase : List.of("verify", "plan", "fetch", "install", "switch")) {
            assertEquals(1, s.value("pinfleet_deploy_phase_seconds_count", "phase", phase), phase);
            assertEquals(1, s.value("pinfleet_deploy_phase_seconds_bucket", "phase", phase, "le", "+Inf"), phase);
            assertEquals(1, s.value("pinfleet_deploy_phase_seconds_bucket", "phase", phase, "le", "600.0"), phase);
        }
        assertEquals(1, s.value("pinfleet_deploy_duration_seconds_count", "outcome", "ok"));
        assertEquals(1, s.value("pinfleet_app_serial", "app", "shop"));
        assertEquals(1, s.value("pinfleet_app_releases", "app", "shop"));
        assertEquals(1, s.value("pinfleet_app_release_info", "app", "shop", "digest", first.getManifestDigest()));
        assertEquals(1, s.value("pinfleet_agent_build_info", "version", Agent.version()));
        assertEquals(0, s.value("pinfleet_deploys_refused_total"));
        double firstEnded = s.value("pinfleet_app_last_deploy_timestamp_seconds", "app", "shop");
        assertTrue(firstEnded > 1.7e9, "Unix seconds of the deploy's end: " + firstEnded);
        assertEquals(core.getSize() + app.getSize(), s.value("pinfleet_store_size_bytes"));
        assertEquals(0, s.value("pinfleet_fetch_retries_total"));
        assertEquals(0, s.value("pinfleet_fetch_failovers_total"));
        assertTrue(s.value("jvm_memory_used_bytes", "area", "heap", "id", "G1 Eden Space") >= 0);
        assertTrue(s.names().containsAll(Set.of("process_cpu_usage", "process_uptime_seconds", "jvm_threads_live_threads",
                "process_files_open_files", "jvm_gc_memory_allocated_bytes_total")), s.names().toString());

        // A retry (503 once) on the first mirror, and a failover: a file only the second mirror has.
        Artifact appV2 = wheel("mypkg", "2.0", m1, Reply.status(503), Reply.ok());
        Artifact extra = wheel("extra-lib", "1.0", m2);
        DeployReport second = deploy(agent, 2, core, appV2, extra);
        assertEquals(Outcome.OK, second.getOutcome(), second.getError());
        s = Scrape.of(agent.metricsPort());
        assertEquals(2, s.value("pinfleet_deploys_total", "outcome", "ok"));
        assertEquals(4, s.value("pinfleet_artifacts_total", "source", "mirror"));
        assertEquals(1, s.value("pinfleet_artifacts_total", "source", "store"), "core was reused from the store");
        assertEquals(core.getSize(), s.value("pinfleet_artifact_bytes_total", "source", "store"));
        assertEquals(2, s.value("pinfleet_fetch_retries_total"), "one retry after the 503, one try on the 2nd mirror");
        assertEquals(1, s.value("pinfleet_fetch_failovers_total"));
        assertEquals(2, s.value("pinfleet_app_serial", "app", "shop"));
        assertEquals(2, s.value("pinfleet_app_releases", "app", "shop"));
        assertEquals(1, s.value("pinfleet_app_release_info", "app", "shop", "digest", second.getManifestDigest()));
        assertEquals(1, s.samples().stream().filter(x -> x.name().equals("pinfleet_app_release_info")).count(),
                "one digest series per app: the first release's went when current moved on");
        assertTrue(s.value("pinfleet_app_last_deploy_timestamp_seconds", "app", "shop") >= firstEnded);
        assertEquals(core.getSize() + app.getSize() + appV2.getSize() + extra.getSize(),
                s.value("pinfleet_store_size_bytes"));

        // Failures, each counted under its reason; the node stays on serial 2.
        assertEquals(Outcome.FAILED, deploy(agent, 2, core, app).getOutcome());
        assertEquals(Outcome.FAILED, fleet.deploy(agent, Envelope.sign(ManifestCodec.toJson(
                TestFleet.manifest("shop", 3, List.of(core)).build()), List.of(Keys.generate()))).report().getOutcome());
        Artifact corrupt = wheel("bad-lib", "1.0", null);
        m1.put(corrupt.getPath(), new byte[0], Reply.bytes(FakeMirror.randomBytes((int) corrupt.getSize(), 7)));
        assertEquals(Outcome.FAILED, deploy(agent, 4, core, corrupt).getOutcome());
        Artifact shortened = wheel("short-lib", "1.0", m1, Reply.bytes(new byte[] {1, 2, 3}));
        assertEquals(Outcome.FAILED, deploy(agent, 5, core, shortened).getOutcome());
        Artifact missing = wheel("gone-lib", "1.0", null);
        assertEquals(Outcome.FAILED, deploy(agent, 6, core, missing).getOutcome());
        s = Scrape.of(agent.metricsPort());
        assertEquals(5, s.value("pinfleet_deploys_total", "outcome", "failed"));
        assertEquals(1, s.value("pinfleet_deploy_failures_total", "reason", "fetch/size"));
        assertEquals(1, s.value("pinfleet_deploy_failures_total", "reason", "verify/serial"));
        assertEquals(1, s.value("pinfleet_deploy_failures_total", "reason", "verify/signature"));
        assertEquals(1, s.value("pinfleet_deploy_failures_total", "reason", "fetch/checksum"));
        assertEquals(1, s.value("pinfleet_deploy_failures_total", "reason", "fetch/not-found"));
        assertEquals(0, s.value("pinfleet_deploy_failures_total", "reason", "install"));
        assertEquals(2, s.value("pinfleet_app_serial", "app", "shop"), "failed deploys change no serial");

        assertTagValuesAreBounded(s);
        String promtool = s.promtool(dir);
        System.out.println("promtool check metrics: " + (promtool == null ? "not on PATH" : promtool));
        if (promtool != null) {
            assertEquals("exit 0", promtool, "promtool check metrics on a real scrape");
        }
        System.out.println("scrape excerpt:\n" + String.join("\n", s.lines("pinfleet_")));
    }

    /**
     * No label value names the node, a version, a file or a URL; pinfleet_* meters use only the known keys. The
     * two info-style meters are the exception by design: one series each per agent and app, holding the version
     * and the current digest.
     */
    private static void assertTagValuesAreBounded(Scrape s) {
        Set<String> keys = Set.of("outcome", "phase", "source", "reason", "app", "le");
        assertEquals(Set.of("version"), s.samples().stream().filter(x -> x.name().equals("pinfleet_agent_build_info"))
                .map(x -> x.labels().keySet()).findFirst().orElseThrow());
        assertEquals(Set.of("app", "digest"), s.samples().stream()
                .filter(x -> x.name().equals("pinfleet_app_release_info")).map(x -> x.labels().keySet())
                .findFirst().orElseThrow());
        for (Scrape.Sample x : s.samples()) {
            if (x.name().endsWith("_info")) {
                continue;
            }
            for (Map.Entry<String, String> l : x.labels().entrySet()) {
                String v = l.getValue();
                assertFalse(v.contains(NODE) || v.contains(".whl") || v.contains("http") || v.matches(".*\\d+\\.\\d+\\.\\d+.*"),
                        "unbounded label value in " + x);
            }
            if (x.name().startsWith("pinfleet_")) {
                assertTrue(keys.containsAll(x.labels().keySet()), "unexpected label key in " + x);
            }
        }
    }

    @Test
    void onlyGetAndHeadOfMetricsAreServed() throws Exception {
        Agent agent = fleet.start(NODE, Map.of("metrics-listen", "127.0.0.1:0"));
        HttpClient http = HttpClient.newHttpClient();
        URI base = URI.create("http://127.0.0.1:" + agent.metricsPort());
        HttpResponse<String> head = http.send(HttpRequest.newBuilder(base.resolve("/metrics"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(base.resolve("/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(""));
        HttpResponse<String> other = http.send(HttpRequest.newBuilder(base.resolve("/metrics/../state.json")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, other.statusCode());
        HttpResponse<String> root = http.send(HttpRequest.newBuilder(base.resolve("/")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(404, root.statusCode());
    }

    @Test
    void metricsAreOffByDefaultAndABusyPortIsNamed() throws Exception {
        Agent quiet = fleet.start("quiet");
        assertEquals(-1, quiet.metricsPort());
        Agent first = fleet.start("first", Map.of("metrics-listen", "127.0.0.1:0"));
        java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> fleet.start("second", Map.of("metrics-listen", "127.0.0.1:" + first.metricsPort())));
        assertTrue(e.getMessage().startsWith("metrics-listen 127.0.0.1:" + first.metricsPort() + ": cannot listen"),
                e.getMessage());
    }
}

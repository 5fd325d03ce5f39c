package dev.pinfleet.controller.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.mirror.serve.NginxProcess;
import dev.pinfleet.mirror.serve.NginxTier;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Source;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mirror caches in tiers, on loopback with real nginx: an origin (nginx serving a mirror laid out and published by
 * the CLI), two cache tiers (nginx with the configuration `pinfleet mirror nginx-conf --cache-of` prints and the
 * Ansible role renders), and in-JVM agents, half behind each tier, whose mirror list is their tier, then the origin.
 * One cold deploy of a frozen manifest costs the origin each package byte once per tier, whatever the number of
 * agents: its egress, counted from its access log, stays at 2 x the manifest's bytes for 10 and for 20 agents, where
 * the same deploy without tiers costs it 10 x and 20 x.
 * With one tier stopped in the middle of a deploy, its agents finish from the origin. Skipped without nginx.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(600)
class MirrorTierTest {
    /**
     * Egress allowed over one copy per tier (per agent without tiers): 2.5 %, the bound for two tiers
     * (2.05 x the manifest's bytes) for anything fetched twice.
     */
    static final double MAX_EGRESS_SLACK = 1.025;
    /** Wheel payloads (random, so incompressible), bytes: the manifest is about 1.3 MB in 7 files. */
    static final int[] PAYLOADS = {400_000, 300_000, 200_000, 150_000, 100_000, 60_000, 20_000};

    /** The class's work directory (a @TempDir of @BeforeAll: shared by the tests, removed after them). */
    Path dir;
    NginxProcess origin;
    Manifest frozen;
    long manifestBytes;
    /** The interpreter itself, not a launcher script (pyenv's shims cost each of 50 agents' probes ~0.4 s of CPU). */
    String python;

    @BeforeAll
    void publishAndFreeze(@TempDir Path tmp) throws Exception {
        dir = tmp;
        assumeTrue(NginxProcess.installed(), "nginx is not installed at " + NginxProcess.BINARY);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // nginx workers read it
        Path mirror = dir.resolve("mirror");
        Path in = Files.createDirectories(dir.resolve("in"));
        List<String> publish = new ArrayList<>(List.of("mirror", "publish"));
        StringBuilder pins = new StringBuilder();
        for (int i = 0; i < PAYLOADS.length; i++) {
            String name = "tier-pkg" + i;
            String version = i == 0 ? "1.0+g0123456789ab" : "1.0"; // a '+' in a file name, as git pins have
            String module = name.replace('-', '_');
            publish.add(TestWheels.wheel(name, version).file(module + "/__init__.py", "N = " + i + "\n")
                    .file(module + "/blob.bin", FakeMirror.randomBytes(PAYLOADS[i], 1000 + i), 0100644)
                    .build(in).toString());
            pins.append(name).append("==").append(version).append('\n');
        }
        publish.addAll(List.of("--mirror", mirror.toString(), "--as", "ci"));
        assertEquals(0, MirrorCliTest.cli("mirror", "init", "--mirror", mirror.toString()).code());
        assertEquals(0, MirrorCliTest.cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "ci", "--policy-version", "1")
                .code());
        MirrorCliTest.Run pub = MirrorCliTest.cli(publish.toArray(String[]::new));
        assertEquals(0, pub.code(), pub.err());
        origin = NginxProcess.start(mirror, dir.resolve("origin"));

        Path requirements = dir.resolve("requirements.txt");
        Files.writeString(requirements, pins);
        Path out = dir.resolve("manifest.json");
        MirrorCliTest.Run freeze = MirrorCliTest.cli("freeze", requirements.toString(), "--mirror", origin.baseUrl(),
                "--app", "shop", "--python", TestFleet.pythonVersion(), "-o", out.toString());
        assertEquals(0, freeze.code(), freeze.err());
        frozen = ManifestCodec.parse(Files.readAllBytes(out));
        assertEquals(PAYLOADS.length, frozen.getArtifactsCount());
        manifestBytes = frozen.getArtifactsList().stream().mapToLong(a -> a.getSize()).sum();
        Processes.Result exe = Processes.run("python3", "-c", "import sys; print(sys.executable)");
        assertEquals(0, exe.exit(), exe.output());
        python = exe.output().strip();
    }

    @AfterAll
    void stopOrigin() throws Exception {
        if (origin != null) {
            origin.close();
        }
    }

    /**
     * One cold deploy to {@code agents} agents, spread evenly over {@code tierCount} cold tiers (0: every agent
     * fetches from the origin itself); returns the origin's egress over the manifest's bytes, checked to be one
     * copy per tier (per agent without tiers) within {@link #MAX_EGRESS_SLACK}.
     */
    private double coldDeployEgress(int agents, int tierCount) throws Exception {
        Path run = Files.createDirectories(dir.resolve("run-" + agents + "-agents-" + tierCount + "-tiers"));
        List<NginxProcess> tiers = new ArrayList<>();
        try (TestFleet fleet = new TestFleet(run.resolve("fleet"))) {
            for (int t = 0; t < tierCount; t++) {
                tiers.add(NginxProcess.startTier(origin.baseUrl(), run.resolve("tier-" + t)));
            }
            Map<String, NginxProcess> tierOf = new LinkedHashMap<>();
            for (int i = 0; i < agents; i++) {
                tierOf.put("node" + i, tiers.isEmpty() ? origin : tiers.get(i % tiers.size()));
            }
            long before = origin.sentBytes("/packages/");
            Map<String, DeployReport> reports = deployAll(fleet, tierOf, Map.of(), null);
            for (Map.Entry<String, DeployReport> e : reports.entrySet()) {
                assertOk(e.getKey(), e.getValue());
                String via = tierOf.get(e.getKey()).baseUrl();
                for (ArtifactResult a : e.getValue().getArtifactsList()) {
                    assertTrue(a.getUrl().startsWith(via), e.getKey() + " fetched " + a.getUrl() + " past " + via);
                }
                assertEquals(fleet.current("node0", "shop"), fleet.current(e.getKey(), "shop"));
            }
            int copies = tiers.isEmpty() ? agents : tierCount;
            long egress = originPackageBytes(before, copies * manifestBytes) - before;
            double ratio = (double) egress / manifestBytes;
            System.out.printf(Locale.ROOT, "TIER-EGRESS agents=%d tiers=%d manifest_bytes=%d origin_bytes=%d ratio=%.3f"
                    + " (agents received %d bytes)%n", agents, tierCount, manifestBytes, egress, ratio,
                    reports.size() * manifestBytes);
            assertTrue(ratio >= copies, "the origin sent each file once per " + (tiers.isEmpty() ? "agent" : "tier")
                    + " at least: " + ratio + "\n" + origin.accessLog());
            assertTrue(ratio <= copies * MAX_EGRESS_SLACK, agents + " agents, " + tierCount + " tiers: origin egress "
                    + egress + " bytes is " + ratio + " x the manifest's " + manifestBytes + " bytes, over "
                    + copies * MAX_EGRESS_SLACK);
            return ratio;
        } finally {
            for (NginxProcess t : tiers) {
                t.close();
            }
        }
    }

    @Test
    void originEgressIsOncePerTierWhateverTheNumberOfAgents() throws Exception {
        Map<Integer, Double> withTiers = new LinkedHashMap<>();
        for (int agents : new int[] {10, 20}) {
            double direct = coldDeployEgress(agents, 0);
            double tiered = coldDeployEgress(agents, 2);
            withTiers.put(agents, tiered);
            System.out.printf(Locale.ROOT, "TIER-EGRESS-SUMMARY agents=%d without_tiers=%.3f with_2_tiers=%.3f"
                    + " origin_saving=%.2fx%n", agents, direct, tiered, direct / tiered);
        }
        assertEquals(withTiers.get(10), withTiers.get(20), 0.05,
                "the origin's egress behind tiers does not grow with the number of agents");
    }

    @Test
    void agentsOfATierStoppedMidDeployFinishFromTheOrigin() throws Exception {
        Path run = Files.createDirectories(dir.resolve("run-failover"));
        int passed = 2; // origin fetches tier B makes before its gate holds the rest: 2 of 7 files reach its agents
        int agents = 20;
        try (NginxProcess tierA = NginxProcess.startTier(origin.baseUrl(), run.resolve("tier-a"));
                TcpGate gate = new TcpGate(origin.port(), passed);
                TestFleet fleet = new TestFleet(run.resolve("fleet"))) {
            NginxProcess tierB = NginxProcess.startTier("http://127.0.0.1:" + gate.port() + "/", run.resolve("tier-b"));
            try {
                String tierBUrl = tierB.baseUrl();
                Map<String, NginxProcess> tierOf = new LinkedHashMap<>();
                for (int i = 0; i < agents; i++) {
                    tierOf.put("node" + i, i % 2 == 0 ? tierA : tierB);
                }
                // Agents fetch every file at once and retry a lost tier quickly (the test waits for the failover,
                // not for back-off).
                Map<String, String> cfg = Map.of("fetch-parallelism", "8", "fetch-backoff", "100ms");
                Map<String, DeployReport> reports = deployAll(fleet, tierOf, cfg, () -> {
                    assertTrue(gate.awaitHeld(1, Duration.ofSeconds(60)), "tier B never asked the origin for a third file");
                    assertEquals(passed, gate.passed());
                    // Each agent behind B asks for all 7 files at once (fetch-parallelism 8): it gets the 2 files B
                    // holds and waits for the 5 others, which B waits for at the gate. Once B has served its 2 files
                    // to every one of its agents, they are certainly in the middle of their deploy.
                    long served = 0;
                    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                    while (served < (long) passed * agents / 2 && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                        served = tierB.logged().stream().filter(l -> l.path().startsWith("/packages/") && l.status() == 200)
                                .count();
                    }
                    assertEquals((long) passed * agents / 2, served, "tier B served its files:\n" + tierB.accessLog());
                    tierB.close(); // SIGTERM: nginx closes its connections at once; its agents are waiting on it
                });
                int fromOrigin = 0;
                int fromTierB = 0;
                Map<Integer, Integer> originTries = new TreeMap<>(); // tries of a file fetched from the origin -> files
                for (Map.Entry<String, DeployReport> e : reports.entrySet()) {
                    assertOk(e.getKey(), e.getValue());
                    boolean behindB = tierOf.get(e.getKey()) == tierB;
                    int here = 0;
                    for (ArtifactResult a : e.getValue().getArtifactsList()) {
                        String url = a.getUrl();
                        if (behindB) {
                            assertTrue(url.startsWith(tierBUrl) || url.startsWith(origin.baseUrl()), e.getKey() + ": " + url);
                            if (url.startsWith(origin.baseUrl())) {
                                here++;
                                assertTrue(a.getTries() >= 2, e.getKey() + ": " + url + " came from the origin without a"
                                        + " failed try on its tier: " + a);
                                originTries.merge(a.getTries(), 1, Integer::sum);
                            }
                        } else {
                            assertTrue(url.startsWith(tierA.baseUrl()), e.getKey() + " (tier A) fetched " + url);
                        }
                    }
                    if (behindB) {
                        assertEquals(PAYLOADS.length - passed, here, e.getKey() + ": files from the origin after its"
                                + " tier stopped: " + e.getValue().getArtifactsList());
                        fromOrigin += here;
                        fromTierB += PAYLOADS.length - here;
                    }
                    assertEquals(fleet.current("node0", "shop"), fleet.current(e.getKey(), "shop"));
                }
                System.out.printf(Locale.ROOT, "TIER-FAILOVER tier B stopped after %d origin fetches, its agents"
                        + " waiting: they fetched %d files from tier B before and %d from the origin after (tries -> files:"
                        + " %s); all %d OK%n", passed, fromTierB, fromOrigin, originTries, agents);
            } finally {
                tierB.close();
            }
        }
    }

    private static void assertOk(String node, DeployReport r) {
        assertNotNull(r, node + " sent no report");
        assertEquals(Outcome.OK, r.getOutcome(), node + ": " + r.getError());
        assertEquals(PAYLOADS.length, r.getArtifactsCount(), node);
        r.getArtifactsList().forEach(a -> assertEquals(Source.MIRROR, a.getSource(), node + ": " + a));
    }

    /** Something to do once every deploy is under way. */
    private interface MidDeploy {
        void run() throws Exception;
    }

    /**
     * Starts one agent per entry of {@code tierOf}, its mirrors that tier then the origin (the origin alone when it
     * is its "tier"), and deploys the frozen
     * manifest to all of them at once (cold: empty stores, empty caches); runs {@code midDeploy} (if any) while they
     * deploy, then gathers every report.
     */
    private Map<String, DeployReport> deployAll(TestFleet fleet, Map<String, NginxProcess> tierOf, Map<String, String> extra,
            MidDeploy midDeploy) throws Exception {
        SignedManifest signed = fleet.sign(TestFleet.manifest("shop", 1, frozen.getArtifactsList()).build());
        ExecutorService pool = Executors.newFixedThreadPool(tierOf.size());
        try {
            long t0 = System.nanoTime();
            Map<String, Future<Agent>> starting = new LinkedHashMap<>();
            for (Map.Entry<String, NginxProcess> e : tierOf.entrySet()) {
                Map<String, String> cfg = new LinkedHashMap<>(extra);
                cfg.put("mirrors", e.getValue() == origin ? origin.baseUrl() : e.getValue().baseUrl() + "," + origin.baseUrl());
                cfg.put("python", python);
                starting.put(e.getKey(), pool.submit(() -> fleet.start(e.getKey(), cfg))); // each probes python3
            }
            Map<String, Agent> agents = new LinkedHashMap<>();
            for (Map.Entry<String, Future<Agent>> e : starting.entrySet()) {
                agents.put(e.getKey(), e.getValue().get(120, TimeUnit.SECONDS));
            }
            long t1 = System.nanoTime();
            Map<String, Future<TestFleet.Result>> running = new LinkedHashMap<>();
            agents.forEach((node, agent) -> running.put(node, pool.submit(() -> fleet.deploy(agent, signed))));
            if (midDeploy != null) {
                midDeploy.run();
            }
            Map<String, DeployReport> reports = new LinkedHashMap<>();
            for (Map.Entry<String, Future<TestFleet.Result>> e : running.entrySet()) {
                reports.put(e.getKey(), e.getValue().get(180, TimeUnit.SECONDS).report());
            }
            System.out.printf(Locale.ROOT, "TIER %d agents started in %.1f s, deployed in %.1f s (agents' total_ms: %s)%n",
                    agents.size(), (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9,
                    reports.values().stream().map(r -> r == null ? "-" : Long.toString(r.getTotalMs())).toList());
            return reports;
        } finally {
            pool.shutdownNow();
        }
    }

    /** The origin's /packages/ body bytes, once its access log holds at least {@code atLeast} more than {@code before}. */
    private long originPackageBytes(long before, long atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        long sent = origin.sentBytes("/packages/");
        while (sent - before < atLeast && System.nanoTime() < deadline) {
            Thread.sleep(20); // nginx logs a request just after its last byte
            sent = origin.sentBytes("/packages/");
        }
        return sent;
    }
}

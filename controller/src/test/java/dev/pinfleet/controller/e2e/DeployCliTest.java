package dev.pinfleet.controller.e2e;

import dev.pinfleet.testing.LoopbackPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.trust.Keys;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's flow through the real CLI: freeze against a served mirror, sign, deploy to agents on loopback. */
class DeployCliTest {
    @TempDir Path dir;
    Path mirrorDir;
    MirrorServer mirror;
    TestFleet fleet;
    String mirrorUrl;

    @BeforeEach
    void setUp() throws Exception {
        mirrorDir = dir.resolve("mirror");
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        List<Path> built = List.of(
                TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n").build(wheels),
                TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0")
                        .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 1\n").build(wheels));
        new Publisher().publishAll(mirrorDir, built, "tester", "");
        mirror = new MirrorServer(mirrorDir, new InetSocketAddress("127.0.0.1", 0), new SimpleMeterRegistry());
        mirrorUrl = "http://127.0.0.1:" + mirror.start() + "/";
        fleet = new TestFleet(dir.resolve("fleet"), java.net.URI.create(mirrorUrl));
        Keys.writePrivate(dir.resolve("release.key"), fleet.key().getPrivate());
        Files.writeString(dir.resolve("requirements.txt"), "# app pins\nmypkg==1.0\ncore-lib==1.0\n");
    }

    /** Ports kept refusing connections until the test ends (bound, never listening). */
    final java.util.List<java.net.Socket> refusing = new java.util.ArrayList<>();

    @AfterEach
    void tearDown() {
        LoopbackPorts.release(refusing);
        fleet.close();
        mirror.close();
    }

    private record Run(int code, String out, String err) {}

    private Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), Clock.systemUTC(),
                new Terminal(new java.io.BufferedReader(new java.io.StringReader("")), false, 120),
                CliContext.of(dir, Map.of()));
        return new Run(code, out.toString(), err.toString());
    }

    private Path freezeAndSign() {
        Path manifest = dir.resolve("manifest.json");
        Run f = cli("freeze", dir.resolve("requirements.txt").toString(), "--mirror", mirrorUrl, "--app", "shop",
                "--python", TestFleet.pythonVersion(), "--serial", "7", "-o", manifest.toString());
        assertEquals(0, f.code(), f.err());
        Path signed = dir.resolve("manifest.signed.json");
        Run s = cli("sign", manifest.toString(), "--key", dir.resolve("release.key").toString(), "-o", signed.toString());
        assertEquals(0, s.code(), s.err());
        Run v = cli("verify", signed.toString(), "--trusted", fleet.trustedKeys().toString());
        assertEquals(0, v.code(), v.err());
        assertTrue(v.out().startsWith("ok: shop serial 7, 2 artifact(s)"), v.out());
        return signed;
    }

    private Map<String, String> mirrorSha256() throws Exception {
        try (Stream<Path> files = Files.walk(mirrorDir.resolve("packages"))) {
            return files.filter(Files::isRegularFile).collect(Collectors.toMap(p -> p.getFileName().toString(), p -> {
                try {
                    return Hashing.sha256Hex(p);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }));
        }
    }

    @Test
    void freezeSignDeployPrintsATableAndWritesAReportWithTheMirrorsChecksums() throws Exception {
        Agent a1 = fleet.start("web1");
        Agent a2 = fleet.start("web2");
        Path inventory = dir.resolve("hosts.ini");
        Files.writeString(inventory, "[web]\nweb1 ansible_host=127.0.0.1 pinfleet_agent_port=" + a1.port()
                + "\nweb2 ansible_host=127.0.0.1 pinfleet_agent_port=" + a2.port() + "\n");
        Path report = dir.resolve("report.json");
        Run d = cli("deploy", freezeAndSign().toString(), "--inventory", inventory.toString(), "--plaintext", "--report", report.toString(), "--progress", "plain");
        assertEquals(0, d.code(), d.out() + d.err());
        assertTrue(d.out().contains("2 of 2 node(s) ok"), d.out());
        assertTrue(d.out().lines().anyMatch(l -> l.startsWith("web1 ") && l.contains(" ok ")), d.out());

        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        assertEquals("shop", r.getApp());
        assertEquals(7, r.getSerial());
        Map<String, String> onMirror = mirrorSha256();
        for (NodeReport n : r.getNodesList()) {
            assertEquals(NodeOutcome.NODE_OK, n.getOutcome());
            assertEquals(2, n.getReport().getArtifactsCount());
            for (ArtifactResult a : n.getReport().getArtifactsList()) {
                assertEquals(onMirror.get(a.getFilename()), a.getSha256(), a.getFilename());
                assertTrue(a.getUrl().startsWith(mirrorUrl + "packages/"), a.getUrl());
            }
            assertEquals(5, n.getReport().getPhasesCount());
        }
        Path py = fleet.root("web2").resolve("apps/shop/current/bin/python");
        assertEquals("42", TestWheels.run(List.of(py.toString(), "-c", "import mypkg; print(mypkg.ANSWER)")).strip());
    }

    @Test
    void anAgentThatIsNotListeningIsReportedUnreachableAndTheOthersProceed() throws Exception {
        Agent a1 = fleet.start("web1");
        refusing.add(LoopbackPorts.refusing());
        int closedPort = refusing.get(0).getLocalPort();
        Path inventory = dir.resolve("hosts.ini");
        Files.writeString(inventory, "[web]\nweb1 ansible_host=127.0.0.1 pinfleet_agent_port=" + a1.port()
                + "\nweb9 ansible_host=127.0.0.1 pinfleet_agent_port=" + closedPort + "\n");
        Path report = dir.resolve("report.json");
        // A budget of one: web9, found unreachable before any node changes, spends it; web1 still deploys.
        Run d = cli("deploy", freezeAndSign().toString(), "--inventory", inventory.toString(), "--plaintext", "--report",
                report.toString(), "--progress", "plain", "--max-failures", "1");
        assertEquals(1, d.code(), "a node that was not reached makes the deploy fail");
        assertTrue(d.out().lines().anyMatch(l -> l.startsWith("web9 ") && l.contains("UNREACHABLE")), d.out());
        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        NodeReport ok = r.getNodes(0);
        NodeReport gone = r.getNodes(1);
        assertEquals(NodeOutcome.NODE_OK, ok.getOutcome());
        assertEquals(NodeOutcome.NODE_UNREACHABLE, gone.getOutcome());
        assertTrue(gone.getError().startsWith("web9 (127.0.0.1:" + closedPort + "): unreachable"), gone.getError());
        assertEquals(fleet.current("web1", "shop"), ok.getReport().getRelease());
    }

    @Test
    void freezeNamesFileAndLineForAnUnpinnedRequirement() throws Exception {
        Path reqs = dir.resolve("bad.txt");
        Files.writeString(reqs, "mypkg==1.0\nflask\n");
        Run f = cli("freeze", reqs.toString(), "--mirror", mirrorUrl, "--app", "shop", "-o", dir.resolve("m.json").toString());
        assertEquals(1, f.code());
        assertTrue(f.err().startsWith("pinfleet: " + reqs + ":2: 'flask': not pinned with '=='"), f.err());
        assertTrue(!Files.exists(dir.resolve("m.json")), "nothing written on error");
    }
}

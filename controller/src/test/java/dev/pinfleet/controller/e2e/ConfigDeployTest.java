package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.EffectiveConfig;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.Setting;
import dev.pinfleet.trust.Keys;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * pinfleet.yml drives a whole first deploy: freeze, sign, plan and deploy run from a subdirectory with no inventory,
 * TLS, mirror, key or strategy flag; the app's spec gives the requirements, a code archive (published to the mirror,
 * pinned by sha256, extracted under its install-path on real agents on loopback), a post-switch hook and a health
 * check; {@code pinfleet config} names the file and line of each setting.
 */
class ConfigDeployTest {
    @TempDir Path dir;
    Path mirrorDir;
    MirrorServer mirror;
    TestFleet fleet;
    Path work;

    @BeforeEach
    void setUp() throws Exception {
        mirrorDir = dir.resolve("mirror");
        work = Files.createDirectories(dir.resolve("work/deeper"));
        assertEquals(0, cli(Map.of(), "mirror", "init", "--mirror", mirrorDir.toString()).code());
        assertEquals(0, cli(Map.of(), "mirror", "acknowledge", "--mirror", mirrorDir.toString(), "--as", "alice",
                "--policy-version", "1").code());
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        new Publisher().publishAll(mirrorDir, List.of(
                TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n").build(wheels),
                TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0")
                        .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 1\n").build(wheels)),
                "tester", "");
        mirror = new MirrorServer(mirrorDir, new InetSocketAddress("127.0.0.1", 0), new SimpleMeterRegistry());
        String mirrorUrl = "http://127.0.0.1:" + mirror.start() + "/";
        fleet = new TestFleet(dir.resolve("fleet"), URI.create(mirrorUrl));
        Keys.writePrivate(Files.createDirectories(dir.resolve("keys")).resolve("release.key"), fleet.key().getPrivate());
        Files.writeString(dir.resolve("requirements.txt"), "mypkg==1.0\ncore-lib==1.0\n");
        Path src = Files.createDirectories(dir.resolve("src/shopapp"));
        Files.writeString(src.resolve("__init__.py"), "import mypkg\ndef health():\n    return 'answer %d' % mypkg.ANSWER\n");
        Files.writeString(dir.resolve("src/VERSION"), "shop 1.0\n");
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        mirror.close();
    }

    private record Run(int code, String out, String err) {}

    private Run cli(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), Clock.systemUTC(),
                new Terminal(new BufferedReader(new StringReader("")), false, 120), CliContext.of(work, env));
        return new Run(code, out.toString(), err.toString());
    }

    private Run ok(String... args) {
        Run r = cli(Map.of(), args);
        assertEquals(0, r.code(), String.join(" ", args) + ":\n" + r.out() + r.err());
        return r;
    }

    @Test
    void pinfleetYmlDrivesAWholeFirstDeployWithTheAppsCodeHookAndHealthCheck() throws Exception {
        Agent a1 = fleet.start("web1");
        Agent a2 = fleet.start("web2");
        Files.writeString(dir.resolve("hosts.ini"), "[web]\nweb1 ansible_host=127.0.0.1 pinfleet_agent_port=" + a1.port()
                + "\nweb2 ansible_host=127.0.0.1 pinfleet_agent_port=" + a2.port() + "\n");
        Files.writeString(dir.resolve("pinfleet.yml"), String.join("\n",
                "# the operator's settings, relative to this file",
                "inventory: hosts.ini",
                "plaintext: true",
                "mirror: mirror",
                "key: keys/release.key",
                "as: alice",
                "progress: plain",
                "apps:",
                "  shop:",
                "    requirements: requirements.txt",
                "    python: \"" + TestFleet.pythonVersion() + "\"",
                "    expires-in: 2d",
                "    archives:",
                "      - path: src",
                "        install-path: app",
                "    post-switch-hook:",
                "      argv: [bin/python, -c, \"print('hook sees', open('app/VERSION').read().strip())\"]",
                "      timeout-seconds: 60",
                "    health-check:",
                "      command: [bin/python, -c, \"import sys; sys.path.insert(0, 'app'); import shopapp; print(shopapp.health())\"]",
                "      timeout-seconds: 60",
                "      retries: 0",
                "    canary: 1",
                "    batch: 50%",
                "    max-failures: 0",
                ""));

        Path manifestFile = dir.resolve("manifest.json");
        Run f = ok("freeze", "-o", manifestFile.toString());
        assertTrue(f.out().contains("froze 2 pin(s) and 1 code archive(s) from " + dir.resolve("requirements.txt")), f.out());
        Manifest m = Json.read(manifestFile, Manifest.newBuilder()).build();
        assertEquals("shop", m.getApp());
        assertEquals(List.of("bin/python", "-c", "print('hook sees', open('app/VERSION').read().strip())"),
                m.getPostSwitchHook().getArgvList());
        assertEquals(60, m.getHealthCheck().getTimeoutSeconds());
        assertEquals(2 * 86_400_000L, (m.getExpires().getSeconds() - m.getCreated().getSeconds()) * 1000);
        Artifact code = m.getArtifacts(2);
        assertEquals(ArtifactKind.ARCHIVE, code.getKind());
        assertEquals("app", code.getInstallPath());
        assertEquals(dev.pinfleet.manifest.Hashing.sha256Hex(mirrorDir.resolve(code.getPath())), code.getSha256());
        String audit = Files.readString(mirrorDir.resolve("audit.log"));
        assertTrue(audit.lines().anyMatch(l -> l.contains(code.getPath()) && l.contains("\"user\":\"alice\"")), audit);
        Run verified = cli(Map.of(), "mirror", "verify", "--mirror", mirrorDir.toString());
        assertEquals(0, verified.code(), "the archive is logged and untouched: " + verified.out() + verified.err());

        Path signed = dir.resolve("manifest.signed.json");
        ok("sign", manifestFile.toString(), "-o", signed.toString());
        Run plan = ok("plan", signed.toString());
        assertTrue(plan.out().contains("web1") && plan.out().contains("web2"), plan.out());
        Path reportFile = dir.resolve("report.json");
        Run d = ok("deploy", signed.toString(), "-m", "first deploy", "--report", reportFile.toString());
        assertTrue(d.out().contains("2 of 2 node(s) ok"), d.out());

        FleetReport r = Json.read(reportFile, FleetReport.newBuilder()).build();
        assertEquals(1, r.getStrategy().getCanary(), "canary from the app's section");
        assertEquals("50%", r.getStrategy().getBatch());
        Map<String, NodeReport> nodes = r.getNodesList().stream().collect(Collectors.toMap(NodeReport::getNode, n -> n));
        for (String node : List.of("web1", "web2")) {
            NodeReport n = nodes.get(node);
            assertEquals(NodeOutcome.NODE_OK, n.getOutcome(), n.toString());
            Map<String, CheckResult> checks = n.getReport().getChecksList().stream()
                    .collect(Collectors.toMap(CheckResult::getKind, c -> c));
            assertEquals("hook sees shop 1.0", checks.get("hook").getOutput().strip());
            assertEquals("answer 42", checks.get("health").getOutput().strip());
            Path current = fleet.root(node).resolve("apps/shop/current");
            assertEquals("shop 1.0\n", Files.readString(current.resolve("app/VERSION")));
            assertTrue(Files.isRegularFile(current.resolve("app/shopapp/__init__.py")));
        }

        Run c = cli(Map.of("PINFLEET_BATCH", "25%"), "config", "--json");
        assertEquals(0, c.code(), c.err());
        EffectiveConfig ec = ProtoJson.parse(c.out(), EffectiveConfig.newBuilder()).build();
        Path yml = dir.resolve("pinfleet.yml");
        assertEquals(yml.toString(), ec.getFile());
        assertEquals("shop", ec.getApp());
        Map<String, Setting> s = ec.getSettingsList().stream().collect(Collectors.toMap(Setting::getKey, x -> x));
        assertEquals(dir.resolve("hosts.ini").toString(), s.get("inventory").getValue());
        assertEquals(yml + ":2 (inventory)", s.get("inventory").getOrigin());
        assertEquals(yml + ":23 (apps.shop.canary)", s.get("canary").getOrigin());
        assertEquals("25%", s.get("batch").getValue());
        assertEquals("PINFLEET_BATCH", s.get("batch").getOrigin());
        assertEquals("app", ec.getApps(0).getArchives(0).getInstallPath());
        Run plain = cli(Map.of(), "config");
        assertTrue(plain.out().lines().anyMatch(l -> l.matches("canary\\s+1\\s+" + java.util.regex.Pattern.quote(yml + ":23 (apps.shop.canary)"))),
                plain.out());
    }
}

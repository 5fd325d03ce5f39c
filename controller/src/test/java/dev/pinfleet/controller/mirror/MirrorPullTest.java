package dev.pinfleet.controller.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.serve.MirrorServer;
import dev.pinfleet.mirror.serve.NginxProcess;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code pinfleet mirror pull} from real simple indexes on loopback: a second {@code mirror serve} (which answers
 * PEP 691 JSON) and nginx over a directory laid out as a PEP 503 index (static HTML with {@code #sha256=}).
 */
class MirrorPullTest {
    @TempDir Path dir;
    Path upstream;
    Path target;
    Path core;
    Path app;

    @BeforeEach
    void setUp() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // nginx workers read it
        upstream = dir.resolve("upstream");
        Path in = Files.createDirectories(dir.resolve("in"));
        core = TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n").build(in);
        app = TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0").file("mypkg/__init__.py", "X = 1\n").build(in);
        Path app2 = TestWheels.wheel("mypkg", "2.0").file("mypkg/__init__.py", "X = 2\n").build(in);
        for (Path m : List.of(upstream, target = dir.resolve("target"))) {
            assertEquals(0, MirrorCliTest.cli("mirror", "init", "--mirror", m.toString()).code());
        }
        assertEquals(0, MirrorCliTest.cli("mirror", "acknowledge", "--mirror", upstream.toString(), "--as", "up", "--policy-version", "1")
                .code());
        assertEquals(0, MirrorCliTest.cli("mirror", "acknowledge", "--mirror", target.toString(), "--as", "alice", "--policy-version", "1")
                .code());
        assertEquals(0, MirrorCliTest.cli("mirror", "publish", core.toString(), app.toString(), app2.toString(), "--mirror",
                upstream.toString(), "--as", "up").code());
    }

    private MirrorCliTest.Run pull(Path requirements, String index, String... extra) {
        List<String> args = new java.util.ArrayList<>(List.of("mirror", "pull", "-r", requirements.toString(), "--index",
                index, "--mirror", target.toString(), "--as", "alice"));
        args.addAll(List.of(extra));
        return MirrorCliTest.cli(args.toArray(String[]::new));
    }

    @Test
    void pullsExactPinsFromAnotherMirrorServeCheckingEachHashAndRecordingTheSource() throws Exception {
        try (MirrorServer server = new MirrorServer(upstream, new InetSocketAddress("127.0.0.1", 0), new SimpleMeterRegistry())) {
            String base = "http://127.0.0.1:" + server.start() + "/";
            Path reqs = dir.resolve("requirements.txt");
            Files.writeString(reqs, "# pins\nmypkg==1.0 --hash=sha256:" + Hashing.sha256Hex(app) + "\ncore-lib==1.0\n");
            MirrorCliTest.Run r = pull(reqs, base + "simple/");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().startsWith("pulled 2 file(s) for 2 pin(s) from " + base + "simple/: 2 published"), r.out());
            assertTrue(r.err().contains("pulled mypkg-1.0-py3-none-any.whl (" + Files.size(app) + " bytes"), r.err());
            Path placed = target.resolve("packages/mypkg/mypkg-1.0-py3-none-any.whl");
            assertEquals(Hashing.sha256Hex(app), Hashing.sha256Hex(placed));
            String audit = Files.readString(target.resolve("audit.log"));
            assertTrue(audit.lines().anyMatch(l -> l.contains("\"user\":\"alice\"")
                    && l.contains("\"source\":\"" + base + "packages/mypkg/mypkg-1.0-py3-none-any.whl\"")), audit);
            assertEquals(0, MirrorCliTest.cli("mirror", "verify", "--mirror", target.toString()).code());
            assertTrue(Files.readString(target.resolve("simple/mypkg/index.html")).contains("mypkg-1.0-py3-none-any.whl"));

            // a range is refused naming file:line; nothing is published
            Files.writeString(reqs, "mypkg>=2.0\n");
            MirrorCliTest.Run range = pull(reqs, base + "simple/");
            assertEquals(1, range.code());
            assertTrue(range.err().startsWith("pinfleet: " + reqs + ":1: "), range.err());
            assertFalse(Files.exists(target.resolve("packages/mypkg/mypkg-2.0-py3-none-any.whl")));

            // a --hash that the file does not have: refused, with every other problem, nothing published
            Files.writeString(reqs, "mypkg==2.0 --hash=sha256:" + "0".repeat(64) + "\nnosuch==1.0\n");
            MirrorCliTest.Run bad = pull(reqs, base + "simple/", "-q");
            assertEquals(1, bad.code());
            assertTrue(bad.err().contains("2 problem(s) pulling from " + base + "simple/; nothing was published"), bad.err());
            assertTrue(bad.err().contains(reqs + ":1: mypkg==2.0: mypkg-2.0-py3-none-any.whl has sha256 "), bad.err());
            assertTrue(bad.err().contains(reqs + ":2: nosuch==1.0: no project nosuch on " + base + "simple/"), bad.err());
            assertFalse(Files.exists(target.resolve("packages/mypkg/mypkg-2.0-py3-none-any.whl")));
        }
    }

    @Test
    void helpDescribesTheCommand() {
        MirrorCliTest.Run help = MirrorCliTest.cli("mirror", "pull", "--help");
        assertEquals(0, help.code(), help.err());
        assertTrue(help.out().contains("PEP 691 JSON") && help.out().contains("--index=URL"), help.out());
    }

    @Test
    void pullsFromNginxServingAStaticSimpleIndexAndRefusesBytesTheIndexDoesNotVouchFor() throws Exception {
        assumeTrue(NginxProcess.installed(), "nginx is not installed at " + NginxProcess.BINARY);
        // a hand-made index: the two good wheels, and one whose #sha256= is not that of its bytes
        Path site = dir.resolve("site");
        Path files = Files.createDirectories(site.resolve("files"));
        Files.copy(core, files.resolve(core.getFileName()));
        Files.copy(app, files.resolve(app.getFileName()));
        Path evil = TestWheels.wheel("evil", "1.0").file("evil/__init__.py", "\n").build(files);
        page(site, "core-lib", core, Hashing.sha256Hex(core));
        page(site, "mypkg", app, Hashing.sha256Hex(app));
        page(site, "evil", evil, "1".repeat(64));
        // nginx as any static web server would serve such a directory: its own config, not the mirror's
        try (NginxProcess nginx = NginxProcess.start(dir.resolve("nginx"), port -> "server {\n"
                + "    listen 127.0.0.1:" + port + ";\n    root " + site + ";\n"
                + "    location /simple/ { index index.html; default_type \"text/html; charset=utf-8\"; }\n"
                + "    location /files/ { default_type application/octet-stream; }\n}\n")) {
            Path reqs = dir.resolve("requirements.txt");
            Files.writeString(reqs, "mypkg==1.0\ncore-lib==1.0\n");
            MirrorCliTest.Run r = pull(reqs, nginx.baseUrl() + "simple");
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains(": 2 published"), r.out());
            assertTrue(Files.readString(target.resolve("audit.log"))
                    .contains("\"source\":\"" + nginx.baseUrl() + "files/" + core.getFileName() + "\""));

            Files.writeString(reqs, "evil==1.0\n");
            MirrorCliTest.Run bad = pull(reqs, nginx.baseUrl() + "simple/");
            assertEquals(1, bad.code());
            assertTrue(bad.err().contains("the index says sha256 " + "1".repeat(64) + " but the bytes served have "
                    + Hashing.sha256Hex(evil)), bad.err());
            assertFalse(Files.exists(target.resolve("packages/evil")));
        }
    }

    private static void page(Path site, String project, Path wheel, String sha256) throws Exception {
        Path d = Files.createDirectories(site.resolve("simple").resolve(project));
        Files.writeString(d.resolve("index.html"), "<!DOCTYPE html>\n<html><body>\n<a href=\"../../files/"
                + wheel.getFileName() + "#sha256=" + sha256 + "\">" + wheel.getFileName() + "</a>\n</body></html>\n");
    }
}

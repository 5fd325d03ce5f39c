package dev.pinfleet.controller.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real pip, as a separate process, against the mirror: served by 'pinfleet mirror serve' (MirrorServer) and by
 * real nginx with the server block of 'pinfleet mirror nginx-conf', both on loopback. pip downloads a pin, and
 * installs the output of 'pinfleet freeze --format pip' with --require-hashes into a fresh virtualenv.
 */
@Timeout(300)
class PipRoundTripTest {
    @TempDir Path dir;
    Path mirror;
    Path greet;
    Path colors;

    @BeforeEach
    void publish() throws Exception {
        assumeTrue(Processes.pythonWithPip(), "python3 with pip is not installed");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // nginx workers read it
        mirror = dir.resolve("mirror");
        Path in = Files.createDirectories(dir.resolve("in"));
        greet = TestWheels.wheel("greet", "1.0").requires("colorlib>=1.1")
                .file("greet/__init__.py", "import colorlib\nHELLO = colorlib.paint('hello')\n").build(in);
        colors = TestWheels.wheel("colorlib", "1.2").file("colorlib/__init__.py", "def paint(s):\n    return '*' + s + '*'\n")
                .build(in);
        assertEquals(0, MirrorCliTest.cli("mirror", "init", "--mirror", mirror.toString()).code());
        assertEquals(0, MirrorCliTest.cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "ci", "--policy-version", "1")
                .code());
        MirrorCliTest.Run pub = MirrorCliTest.cli("mirror", "publish", greet.toString(), colors.toString(), "--mirror",
                mirror.toString(), "--as", "ci");
        assertEquals(0, pub.code(), pub.err());
        Files.writeString(dir.resolve("requirements.txt"), "greet==1.0\ncolorlib==1.2  # via greet\n");
    }

    @Test
    void pipDownloadsAndInstallsTheFrozenPinsFromMirrorServe() throws Exception {
        try (MirrorServer server = new MirrorServer(mirror, new InetSocketAddress("127.0.0.1", 0),
                new SimpleMeterRegistry())) {
            String base = "http://127.0.0.1:" + server.start() + "/";

            Processes.Result download = Processes.run("python3", "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                    "--index-url", base + "simple/", "--dest", dir.resolve("dl").toString(), "greet==1.0");
            assertEquals(0, download.exit(), download.output());
            assertEquals(Hashing.sha256Hex(greet), Hashing.sha256Hex(dir.resolve("dl").resolve(greet.getFileName())));

            installFrozenPins(base, "venv-serve");

            Path bad = dir.resolve("bad-hash.txt");
            Files.writeString(bad, "colorlib==1.2\ngreet==1.0 \\\n    --hash=sha256:" + "0".repeat(64) + "\n");
            MirrorCliTest.Run refused = MirrorCliTest.cli("freeze", bad.toString(), "--mirror", base, "--format", "pip",
                    "-o", dir.resolve("never.txt").toString());
            assertEquals(1, refused.code(), refused.out());
            assertTrue(refused.err().contains(bad + ":2: greet==1.0: no file on mirror " + base)
                    && refused.err().contains("greet-1.0-py3-none-any.whl sha256:" + Hashing.sha256Hex(greet)), refused.err());
            assertTrue(Files.notExists(dir.resolve("never.txt")));
        }
    }

    @Test
    void pipDownloadsAndInstallsTheFrozenPinsFromNginx() throws Exception {
        assumeTrue(NginxProcess.installed(), "nginx is not installed at " + NginxProcess.BINARY);
        try (NginxProcess nginx = NginxProcess.start(mirror, dir.resolve("nginx"))) {
            String base = "http://127.0.0.1:" + nginx.port() + "/";
            Processes.Result download = Processes.run("python3", "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                    "--index-url", base + "simple/", "--dest", dir.resolve("dl").toString(), "colorlib==1.2");
            assertEquals(0, download.exit(), download.output());
            assertEquals(Hashing.sha256Hex(colors), Hashing.sha256Hex(dir.resolve("dl").resolve(colors.getFileName())));

            installFrozenPins(base, "venv-nginx");
        }
    }

    @Test
    void checkDepsFindsADeliberatelyMissingDependency() throws Exception {
        Path reqs = dir.resolve("incomplete.txt");
        Files.writeString(reqs, "# colorlib forgotten\ngreet==1.0\n");
        MirrorCliTest.Run r = MirrorCliTest.cli("freeze", reqs.toString(), "--mirror", mirror.toString(), "--format", "pip",
                "--check-deps", "-o", dir.resolve("out.txt").toString());
        assertEquals(1, r.code(), r.out());
        assertTrue(r.err().contains("1 problem(s) for CPython 3.11 on manylinux_2_36_x86_64; nothing was written")
                && r.err().contains(reqs + ":2: greet==1.0 requires 'colorlib>=1.1', but colorlib is not pinned "
                        + "(missing dependency)"), r.err());
        assertTrue(Files.notExists(dir.resolve("out.txt")));
    }

    /** freeze --format pip --check-deps against {@code base}, then pip install --require-hashes into a new venv. */
    private void installFrozenPins(String base, String venvName) throws Exception {
        Path pins = dir.resolve(venvName + "-pins.txt");
        MirrorCliTest.Run freeze = MirrorCliTest.cli("freeze", dir.resolve("requirements.txt").toString(), "--mirror", base,
                "--format", "pip", "--check-deps", "-o", pins.toString());
        assertEquals(0, freeze.code(), freeze.err());
        assertTrue(freeze.out().contains("froze 2 pin(s)") && freeze.out().contains("dependencies satisfied"), freeze.out());
        List<String> lines = Files.readAllLines(pins);
        assertTrue(lines.contains("--index-url " + base + "simple/"), lines.toString());
        assertTrue(lines.contains("    --hash=sha256:" + Hashing.sha256Hex(greet)), lines.toString());

        Path python = Processes.venv(dir.resolve(venvName));
        Processes.Result install = Processes.run("python3", "-m", "pip", "--python", python.toString(), "install",
                "--no-deps", "--no-cache-dir", "--require-hashes", "-r", pins.toString());
        assertEquals(0, install.exit(), install.output());
        Processes.Result imported = Processes.run(python.toString(), "-c", "import greet; print(greet.HELLO)");
        assertEquals(0, imported.exit(), imported.output());
        assertEquals("*hello*", imported.output().strip());
    }
}

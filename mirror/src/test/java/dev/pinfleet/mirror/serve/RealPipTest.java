package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.Python;
import dev.pinfleet.mirror.pack.InstalledDist;
import dev.pinfleet.mirror.pack.WheelPacker;
import dev.pinfleet.mirror.publish.Publisher;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real pip against the mirror: a distribution installed in this machine's Python is packed back into a
 * wheel, published to a temporary mirror, and downloaded and installed by pip as a separate process.
 * Skipped when python3 or pip is missing. pip runs with this machine's pip configuration removed, so no
 * other index can satisfy the request.
 */
class RealPipTest {
    private static final Duration PIP_TIMEOUT = Duration.ofSeconds(180);
    /** Small pure-Python distributions and the module each provides. */
    private static final Map<String, String> CANDIDATES = Map.of("six", "six", "idna", "idna", "iniconfig",
            "iniconfig");

    @TempDir
    Path tmp;

    private InstalledDist dist;
    private String module;
    private Path wheel;
    private Path mirror;

    @BeforeEach
    void packAndPublish() throws Exception {
        assumeTrue(Python.available(), "python3 is not installed");
        assumeTrue(Python.run(Duration.ofSeconds(60), "python3", "-m", "pip", "--version").exit() == 0,
                "pip is not installed");
        Path site = Python.purelib();
        Optional<InstalledDist> found = WheelPacker.scan(site).stream()
                .filter(d -> CANDIDATES.containsKey(Names.normalizeProject(d.name()))).findFirst();
        assumeTrue(found.isPresent(), "none of " + CANDIDATES.keySet() + " is installed");
        dist = found.get();
        module = CANDIDATES.get(Names.normalizeProject(dist.name()));
        wheel = WheelPacker.pack(site, dist, tmp.resolve("wheels"));
        mirror = tmp.resolve("mirror");
        new Publisher().publish(mirror, wheel, "test", "1");
    }

    private String pin() {
        return dist.name() + "==" + dist.version();
    }

    @Test
    void pipDownloadsThePackedWheelByteForByteAndInstallsItIntoAFreshVenv() throws Exception {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (MirrorServer server = new MirrorServer(mirror, new InetSocketAddress("127.0.0.1", 0), registry)) {
            String index = "http://127.0.0.1:" + server.start() + "/simple/";

            Path dest = tmp.resolve("download");
            Python.Result download = Python.runIsolated(PIP_TIMEOUT, "python3", "-m", "pip", "download",
                    "--no-deps", "--no-cache-dir", "--index-url", index, "--dest", dest.toString(), pin());
            assertEquals(0, download.exit(), download.output());
            Path got = dest.resolve(wheel.getFileName());
            assertTrue(Files.exists(got), download.output());
            assertEquals(Hashing.sha256Hex(wheel), Hashing.sha256Hex(got));

            Path venv = tmp.resolve("venv");
            Python.Result created = Python.run(PIP_TIMEOUT, "python3", "-m", "venv", "--without-pip", venv.toString());
            assertEquals(0, created.exit(), created.output());
            Path python = venv.resolve("bin/python");
            Python.Result install = Python.runIsolated(PIP_TIMEOUT, "python3", "-m", "pip", "--python",
                    python.toString(), "install", "--no-deps", "--no-cache-dir", "--index-url", index, pin());
            assertEquals(0, install.exit(), install.output());

            Python.Result imported = Python.run(Duration.ofSeconds(60), python.toString(), "-c",
                    "import " + module + "; print(" + module + ".__file__)");
            assertEquals(0, imported.exit(), imported.output());
            assertTrue(imported.output().strip().startsWith(venv.toRealPath().toString())
                    || imported.output().strip().startsWith(venv.toString()), imported.output());

            Python.Result check = Python.runIsolated(PIP_TIMEOUT, "python3", "-m", "pip", "--python",
                    python.toString(), "check");
            assertEquals(0, check.exit(), check.output());

            String metrics = registry.scrape();
            assertTrue(metrics.contains("pinfleet_mirror_requests_total{status=\"200\"}"), metrics);
        } finally {
            registry.close();
        }
    }

    /**
     * The on-disk layout alone is a working index: served by a plain static file server (Python's
     * http.server, standing in for nginx), pip resolves through the static PEP 503 HTML pages.
     */
    @Test
    void theStaticLayoutWorksBehindAPlainFileServer() throws Exception {
        Path log = tmp.resolve("http-server.log");
        Process server = new ProcessBuilder("python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                "--directory", mirror.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            int port = awaitPort(log, server);
            Path dest = tmp.resolve("download");
            Python.Result download = Python.runIsolated(PIP_TIMEOUT, "python3", "-m", "pip", "download",
                    "--no-deps", "--no-cache-dir", "--index-url", "http://127.0.0.1:" + port + "/simple/",
                    "--dest", dest.toString(), pin());
            assertEquals(0, download.exit(), download.output());
            assertEquals(Hashing.sha256Hex(wheel), Hashing.sha256Hex(dest.resolve(wheel.getFileName())));
            String served = Files.readString(log, StandardCharsets.UTF_8);
            assertTrue(served.contains("GET /simple/" + Names.normalizeProject(dist.name()) + "/"), served);
        } finally {
            server.destroy();
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    private static int awaitPort(Path log, Process server) throws Exception {
        Pattern serving = Pattern.compile("port (\\d+)");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = serving.matcher(Files.readString(log, StandardCharsets.UTF_8));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            if (!server.isAlive()) {
                throw new AssertionError("http.server exited: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("http.server did not report its port: " + Files.readString(log));
    }
}

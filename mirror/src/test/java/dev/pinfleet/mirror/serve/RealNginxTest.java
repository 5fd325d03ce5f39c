package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.mirror.Python;
import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.policy.UploadPolicy;
import dev.pinfleet.mirror.policy.Uploaders;
import dev.pinfleet.mirror.publish.Publisher;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real nginx serving a mirror directory with the server block of {@link NginxConfig}, on a random loopback
 * port, as an unprivileged worker when the test runs as root: real pip downloads through the static index,
 * and nothing but the index and the packages is served. Skipped when {@code /usr/sbin/nginx} is missing.
 */
@Timeout(120)
class RealNginxTest {
    @TempDir
    Path tmp;
    private Path mirror;
    private Path wheel;
    private NginxProcess nginx;
    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        assumeTrue(NginxProcess.installed(), "nginx is not installed at " + NginxProcess.BINARY);
        mirror = signedOffMirror(tmp);
        wheel = TestWheels.wheel(tmp.resolve("in"), "Nginx.Demo", "1.0", ">=3.7", Map.of("nginx_demo.py", "V = 1\n"));
        new Publisher().publishSignedOff(mirror, List.of(wheel), "alice");
        plantUnservable(mirror, "nginx-demo");
        nginx = NginxProcess.start(mirror, tmp.resolve("nginx"));
    }

    /**
     * {@code tmp/mirror}, laid out with the upload policy and alice signed off; {@code tmp} made readable to nginx's
     * unprivileged workers.
     */
    static Path signedOffMirror(Path tmp) throws Exception {
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path mirror = tmp.resolve("mirror");
        UploadPolicy.init(mirror, null);
        Uploaders.acknowledge(mirror, "alice", "1", Instant.now());
        return mirror;
    }

    /**
     * Puts what nginx must never serve into {@code packages/PROJECT/} of {@code mirror}: an upload in progress (a
     * dot-file) and a symbolic link to the audit log named like a wheel.
     */
    static void plantUnservable(Path mirror, String project) throws IOException {
        Path dir = mirror.resolve("packages").resolve(project);
        Files.writeString(dir.resolve("." + project.replace('-', '_') + "-2.0.whl.1.tmp"), "in progress");
        Files.createSymbolicLink(dir.resolve("linked-1.0-py3-none-any.whl"), mirror.resolve("audit.log"));
    }

    @AfterEach
    void stop() throws Exception {
        if (nginx != null) {
            nginx.close();
        }
    }

    private HttpResponse<byte[]> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + nginx.port() + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    @Test
    void realPipDownloadsThroughTheStaticIndex() throws Exception {
        assumeTrue(Python.available(), "python3 is not installed");
        Path dest = tmp.resolve("download");
        Python.Result r = Python.runIsolated(Duration.ofSeconds(120), "python3", "-m", "pip", "download", "--no-deps",
                "--no-cache-dir", "--index-url", "http://127.0.0.1:" + nginx.port() + "/simple/", "--dest",
                dest.toString(), "nginx-demo==1.0");
        assertEquals(0, r.exit(), r.output());
        assertArrayEquals(Files.readAllBytes(wheel), Files.readAllBytes(dest.resolve(wheel.getFileName())));
        assertTrue(nginx.accessLog().contains("GET /simple/nginx-demo/ HTTP/1.1\" 200"), nginx.accessLog());
    }

    @Test
    void servesTheIndexAndPackagesAndNothingElse() throws Exception {
        HttpResponse<byte[]> page = get("/simple/nginx-demo/");
        assertEquals(200, page.statusCode());
        assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
        assertTrue(new String(page.body()).contains("data-requires-python=\"&gt;=3.7\""));
        assertEquals(200, get("/simple/").statusCode());
        HttpResponse<byte[]> file = get("/packages/nginx-demo/" + wheel.getFileName());
        assertEquals(200, file.statusCode());
        assertArrayEquals(Files.readAllBytes(wheel), file.body());

        for (String p : List.of("/", "/audit.log", "/uploaders", "/policy/", "/policy/POLICY.md", "/policy/version",
                "/.pinfleet-index-cache", "/.pinfleet.lock", "/packages/", "/packages/nginx-demo/",
                "/packages/nginx-demo/.nginx_demo-2.0.whl.1.tmp", "/simple/%2e%2e/audit.log",
                "/packages/nginx-demo/%2e%2e/%2e%2e/uploaders", "/simple/../policy/version")) {
            assertEquals(404, get(p).statusCode(), p);
        }
        int link = get("/packages/nginx-demo/linked-1.0-py3-none-any.whl").statusCode();
        assertTrue(link == 403 || link == 404, "a symbolic link is not followed: " + link);
    }

    /**
     * One rule in both servers: regular files only. A link to another file of the mirror, a linked directory on the
     * way and a linked index page are refused by nginx with the configuration pinfleet prints and by
     * {@code pinfleet mirror serve} alike, while the files they point to are served by both.
     */
    @Test
    void nginxAndTheMirrorServerRefuseTheSameSymbolicLinks() throws Exception {
        String real = "/packages/nginx-demo/" + wheel.getFileName();
        Files.createSymbolicLink(mirror.resolve("packages/nginx-demo/inside-1.0-py3-none-any.whl"),
                mirror.resolve(real.substring(1)));
        Files.createSymbolicLink(mirror.resolve("packages/alias"), mirror.resolve("packages/nginx-demo"));
        Path page = mirror.resolve("simple/nginx-demo/index.html");
        Path copy = Files.copy(page, tmp.resolve("index-copy.html"));
        Files.delete(page);
        Files.createSymbolicLink(page, copy);
        Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (MirrorServer netty = new MirrorServer(mirror, new InetSocketAddress("127.0.0.1", 0), registry)) {
            int nettyPort = netty.start();
            for (String p : List.of("/packages/nginx-demo/inside-1.0-py3-none-any.whl",
                    "/packages/alias/" + wheel.getFileName(), "/simple/nginx-demo/")) {
                int byNginx = get(p).statusCode();
                assertTrue(byNginx == 403 || byNginx == 404, "nginx followed " + p + ": " + byNginx);
                assertEquals(404, RawHttp.get(nettyPort, p).status(), "pinfleet mirror serve followed " + p);
            }
            assertEquals(200, get(real).statusCode());
            assertEquals(200, RawHttp.get(nettyPort, real).status());
        } finally {
            registry.close();
        }
    }
}

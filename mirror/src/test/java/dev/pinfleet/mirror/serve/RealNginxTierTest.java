package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.publish.Publisher;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real nginx cache tier (the configuration of {@link NginxTier}, i.e. the Ansible role's template) in front of a
 * real nginx origin serving a mirror directory, both on loopback: a cold file asked for by ten clients at once
 * leaves the origin once; Range requests are answered from the slices that cover them; index pages are cached and
 * revalidated with a 304; the tier refuses what the origin refuses; with the origin down it keeps serving what it
 * holds; an https origin is trusted only when its certificate chains to the tier's origin CA file. Skipped when
 * {@code /usr/sbin/nginx} is missing.
 */
@Timeout(120)
class RealNginxTierTest {
    private static final int SLICE = 64 * 1024;
    /** Index validity of the tier under test: short, so revalidation is seen within the polls below. */
    private static final String INDEX_VALID = "2s";
    /** How long a poll waits for the tier to revalidate: INDEX_VALID plus a wide margin for a loaded CI machine. */
    private static final Duration POLL = Duration.ofSeconds(30);

    @TempDir
    Path tmp;
    private Path mirror;
    private Path big;
    private Path local;
    private byte[] bigBytes;
    private NginxProcess origin;
    private NginxProcess tier;
    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        assumeTrue(NginxProcess.installed(), "nginx is not installed at " + NginxProcess.BINARY);
        mirror = RealNginxTest.signedOffMirror(tmp);
        Path in = tmp.resolve("in");
        byte[] noise = new byte[300_000];
        new Random(17).nextBytes(noise);
        big = TestWheels.wheel(in, "tier-demo", "1.0", ">=3.7",
                Map.of("tier_demo/__init__.py", "V = 1\n", "tier_demo/noise.txt", Base64.getEncoder().encodeToString(noise)));
        local = TestWheels.wheel(in, "tier-demo", "1.1+g0123456789ab", ">=3.7", Map.of("tier_demo/__init__.py", "V = 2\n"));
        new Publisher().publishSignedOff(mirror, List.of(big, local), "alice");
        bigBytes = Files.readAllBytes(big);
        assertTrue(bigBytes.length > 4 * SLICE, "the big wheel spans several slices: " + bigBytes.length);
        RealNginxTest.plantUnservable(mirror, "tier-demo");
        origin = NginxProcess.start(mirror, tmp.resolve("origin"));
        tier = NginxProcess.start(tmp.resolve("tier"), port -> new NginxTier(origin.baseUrl(), "127.0.0.1:" + port,
                "localhost", tmp.resolve("tier/cache"), "1m", "100m", "1d", INDEX_VALID, "64k", "20s",
                Path.of(NginxTier.DEFAULT_ORIGIN_CA)).render());
    }

    @AfterEach
    void stop() throws Exception {
        if (tier != null) {
            tier.close();
        }
        if (origin != null) {
            origin.close();
        }
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        return get(tier, path, headers);
    }

    private HttpResponse<byte[]> get(NginxProcess via, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(via.baseUrl() + path.substring(1)))
                .timeout(Duration.ofSeconds(30));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static String cacheStatus(HttpResponse<?> r) {
        return r.headers().firstValue("x-pinfleet-cache").orElse("(none)");
    }

    private String bigPath() {
        return "/packages/tier-demo/" + big.getFileName();
    }

    /** The origin's body bytes for {@code path}, once its access log has at least {@code atLeast} of them. */
    private long originBytes(String path, long atLeast) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        long sent = origin.sentBytes(path);
        while (sent < atLeast && System.nanoTime() < deadline) {
            Thread.sleep(20); // nginx writes a request's log line just after its last byte
            sent = origin.sentBytes(path);
        }
        return sent;
    }

    @Test
    void aColdFileAskedForByTenClientsLeavesTheOriginOnce() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<HttpResponse<byte[]>>> all = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                all.add(pool.submit(() -> {
                    go.await();
                    return get(bigPath());
                }));
            }
            go.countDown();
            for (Future<HttpResponse<byte[]>> f : all) {
                HttpResponse<byte[]> r = f.get(60, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode());
                assertArrayEquals(bigBytes, r.body());
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(bigBytes.length, originBytes(bigPath(), bigBytes.length),
                "every byte left the origin exactly once:\n" + origin.accessLog());
        long slices = origin.logged().stream().filter(l -> l.path().equals(bigPath())).count();
        assertEquals((bigBytes.length + SLICE - 1) / SLICE, slices, "one origin request per slice:\n" + origin.accessLog());
        HttpResponse<byte[]> again = get(bigPath());
        assertEquals("HIT", cacheStatus(again));
        assertEquals("public, max-age=31536000, immutable", again.headers().firstValue("cache-control").orElse(""));
        assertEquals(bigBytes.length, origin.sentBytes(bigPath()), "a hit costs the origin nothing");
    }

    @Test
    void rangeRequestsAreServedFromTheSlicesThatCoverThem() throws Exception {
        int from = 3 * SLICE + 123;
        HttpResponse<byte[]> tail = get(bigPath(), "Range", "bytes=" + from + "-");
        assertEquals(206, tail.statusCode());
        assertEquals("bytes " + from + "-" + (bigBytes.length - 1) + "/" + bigBytes.length,
                tail.headers().firstValue("content-range").orElse(""));
        assertArrayEquals(Arrays.copyOfRange(bigBytes, from, bigBytes.length), tail.body());
        long fetched = originBytes(bigPath(), bigBytes.length - 3L * SLICE);
        assertEquals(bigBytes.length - 3L * SLICE, fetched, "only the slices from the 4th on were fetched:\n"
                + origin.accessLog());

        HttpResponse<byte[]> across = get(bigPath(), "Range", "bytes=" + (SLICE - 10) + "-" + (SLICE + 9));
        assertEquals(206, across.statusCode());
        assertArrayEquals(Arrays.copyOfRange(bigBytes, SLICE - 10, SLICE + 10), across.body());
        HttpResponse<byte[]> suffix = get(bigPath(), "Range", "bytes=-1000");
        assertEquals(206, suffix.statusCode());
        assertArrayEquals(Arrays.copyOfRange(bigBytes, bigBytes.length - 1000, bigBytes.length), suffix.body());
        HttpResponse<byte[]> whole = get(bigPath());
        assertArrayEquals(bigBytes, whole.body());
        assertEquals(bigBytes.length, originBytes(bigPath(), bigBytes.length), "still each byte once:\n"
                + origin.accessLog());
        assertEquals(416, get(bigPath(), "Range", "bytes=" + bigBytes.length + "-").statusCode());
    }

    @Test
    void aFileWithALocalVersionLabelKeepsItsName() throws Exception {
        String name = local.getFileName().toString();
        assertTrue(name.contains("+"), name);
        HttpResponse<byte[]> r = get("/packages/tier-demo/" + name.replace("+", "%2B"));
        assertEquals(200, r.statusCode(), new String(r.body()));
        assertArrayEquals(Files.readAllBytes(local), r.body());
    }

    @Test
    void indexPagesAreCachedThenRevalidatedAndShowNewUploads() throws Exception {
        HttpResponse<byte[]> first = get("/simple/tier-demo/");
        assertEquals(200, first.statusCode());
        assertEquals("MISS", cacheStatus(first));
        assertTrue(new String(first.body()).contains(big.getFileName().toString()));
        String again = cacheStatus(get("/simple/tier-demo/"));
        assertTrue(again.equals("HIT") || again.equals("REVALIDATED"), "the second read is the tier's copy: " + again);

        String status = again;
        long deadline = System.nanoTime() + POLL.toNanos();
        while (!status.equals("REVALIDATED") && System.nanoTime() < deadline) {
            Thread.sleep(250);
            status = cacheStatus(get("/simple/tier-demo/"));
        }
        assertEquals("REVALIDATED", status, "after " + INDEX_VALID + " the tier asks the origin again");
        // nginx logs a request after it has answered it: the tier may hold the 304 before the origin wrote its line
        deadline = System.nanoTime() + POLL.toNanos();
        boolean revalidated = false;
        while (!revalidated && System.nanoTime() < deadline) {
            revalidated = origin.logged().stream()
                    .anyMatch(l -> l.path().equals("/simple/tier-demo/") && l.status() == 304);
            if (!revalidated) {
                Thread.sleep(100);
            }
        }
        assertTrue(revalidated, "revalidation costs a 304 without body:\n" + origin.accessLog());

        Path newer = TestWheels.wheel(tmp.resolve("in2"), "tier-demo", "2.0", ">=3.7", Map.of("tier_demo/__init__.py", "V = 3\n"));
        new Publisher().publishSignedOff(mirror, List.of(newer), "alice");
        String page = "";
        deadline = System.nanoTime() + POLL.toNanos();
        while (!page.contains(newer.getFileName().toString()) && System.nanoTime() < deadline) {
            Thread.sleep(250);
            page = new String(get("/simple/tier-demo/").body());
        }
        assertTrue(page.contains(newer.getFileName().toString()), "a new upload shows on the tier: " + page);
    }

    @Test
    void refusesWhatTheOriginRefuses() throws Exception {
        for (String p : List.of("/audit.log", "/uploaders", "/policy/", "/policy/POLICY.md", "/policy/version",
                "/.pinfleet-index-cache", "/.pinfleet.lock", "/packages/", "/packages/tier-demo/",
                "/packages/tier-demo/.tier_demo-2.0.whl.1.tmp", "/simple/%2e%2e/audit.log",
                "/packages/tier-demo/%2e%2e/%2e%2e/uploaders", "/simple/../policy/version", "/metrics", "/upload/x.whl")) {
            assertEquals(404, get(p).statusCode(), p);
        }
        int link = get("/packages/tier-demo/linked-1.0-py3-none-any.whl").statusCode();
        assertTrue(link == 403 || link == 404, "a symbolic link on the origin is not followed: " + link);
        assertEquals(302, get("/").statusCode());
        assertTrue(origin.logged().stream().noneMatch(l -> l.path().contains("audit") || l.path().contains("uploaders")
                || l.path().contains("policy") || l.path().endsWith("/")), "asked the origin:\n" + origin.accessLog());
    }

    /** A self-signed certificate for "localhost" and its key, made by the real openssl. */
    private Path certificate(String name) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("tls"));
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                "-keyout", dir.resolve(name + ".key").toString(), "-out", dir.resolve(name + ".crt").toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "openssl: " + out);
        return dir.resolve(name + ".crt");
    }

    @Test
    void anHttpsOriginIsTrustedThroughItsCaOnly() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/openssl")), "openssl is not installed");
        Path cert = certificate("origin");
        Path stranger = certificate("stranger");
        String key = cert.resolveSibling("origin.key").toString();
        try (NginxProcess tlsOrigin = NginxProcess.start(tmp.resolve("tls-origin"), port -> NginxConfig.serverBlock(
                        mirror, "127.0.0.1:" + port, "localhost", null, 0).replace("listen 127.0.0.1:" + port + ";",
                        "listen 127.0.0.1:" + port + " ssl;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key "
                                + key + ";"));
                NginxProcess trusting = NginxProcess.start(tmp.resolve("trusting"), port -> new NginxTier(
                        "https://localhost:" + tlsOrigin.port() + "/", "127.0.0.1:" + port, "localhost",
                        tmp.resolve("trusting/cache"), "1m", "100m", "1d", INDEX_VALID, "64k", "20s", cert).render());
                NginxProcess wary = NginxProcess.start(tmp.resolve("wary"), port -> new NginxTier(
                        "https://localhost:" + tlsOrigin.port() + "/", "127.0.0.1:" + port, "localhost",
                        tmp.resolve("wary/cache"), "1m", "100m", "1d", INDEX_VALID, "64k", "20s", stranger).render())) {
            HttpResponse<byte[]> ok = get(trusting, bigPath());
            assertEquals(200, ok.statusCode());
            assertArrayEquals(bigBytes, ok.body());
            assertEquals(502, get(wary, bigPath()).statusCode(), "an origin certificate the CA file does not vouch for");
        }
    }

    @Test
    void withTheOriginDownItServesWhatItHolds() throws Exception {
        assertEquals(200, get(bigPath()).statusCode());
        assertEquals(200, get("/simple/tier-demo/").statusCode());
        origin.close();
        HttpResponse<byte[]> file = get(bigPath());
        assertEquals(200, file.statusCode());
        assertEquals("HIT", cacheStatus(file));
        assertArrayEquals(bigBytes, file.body());

        String status = "";
        long deadline = System.nanoTime() + POLL.toNanos();
        while (!status.equals("STALE") && System.nanoTime() < deadline) {
            Thread.sleep(250);
            HttpResponse<byte[]> page = get("/simple/tier-demo/");
            assertEquals(200, page.statusCode(), "the last copy of the index is served");
            status = cacheStatus(page);
        }
        assertEquals("STALE", status, "once expired, the index is served stale while the origin is down");
        assertEquals(502, get("/simple/never-cached/").statusCode());
    }
}

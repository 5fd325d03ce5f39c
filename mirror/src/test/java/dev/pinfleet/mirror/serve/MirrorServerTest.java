package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.SimplePages;
import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.publish.Publisher;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MirrorServerTest {
    @TempDir
    Path tmp;

    private Path dir;
    private Path wheel;
    private byte[] data;
    private PrometheusMeterRegistry registry;
    private MirrorServer server;
    private int port;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();

    private static final String WHEEL_PATH = "/packages/demo-pkg/demo_pkg-1.0-py3-none-any.whl";

    @BeforeEach
    void start() throws Exception {
        dir = tmp.resolve("mirror");
        Path in = TestWheels.wheel(tmp.resolve("in"), "Demo.Pkg", "1.0", ">=3.8",
                Map.of("demo_pkg/__init__.py", "VALUE = 1\n"));
        new Publisher().publish(dir, in, "test", "1");
        wheel = dir.resolve(WHEEL_PATH.substring(1));
        data = new byte[10_000];
        new Random(42).nextBytes(data);
        Files.write(dir.resolve("packages/demo-pkg/data.bin"), data);
        Files.writeString(tmp.resolve("secret.txt"), "TOP-SECRET");
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        server = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0), registry);
        port = server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        registry.close();
    }

    private HttpResponse<byte[]> get(String path, String... headers) throws Exception {
        return send("GET", path, headers);
    }

    private HttpResponse<byte[]> send(String method, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10)).method(method, HttpRequest.BodyPublishers.noBody());
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static String header(HttpResponse<?> r, String name) {
        return r.headers().firstValue(name).orElse(null);
    }

    @Test
    void getServesTheFileWithLengthTypeAndValidators() throws Exception {
        HttpResponse<byte[]> r = get(WHEEL_PATH);
        assertEquals(200, r.statusCode());
        assertArrayEquals(Files.readAllBytes(wheel), r.body());
        assertEquals(Long.toString(Files.size(wheel)), header(r, "content-length"));
        assertEquals("application/octet-stream", header(r, "content-type"));
        assertEquals("bytes", header(r, "accept-ranges"));
        assertTrue(header(r, "etag").matches("\"[0-9a-f]+-[0-9a-f]+\""), header(r, "etag"));
        assertTrue(header(r, "last-modified").endsWith(" GMT"), header(r, "last-modified"));
    }

    @Test
    void headSendsHeadersWithoutABody() throws Exception {
        HttpResponse<byte[]> r = send("HEAD", "/packages/demo-pkg/data.bin");
        assertEquals(200, r.statusCode());
        assertEquals("10000", header(r, "content-length"));
        assertEquals(0, r.body().length);
        assertEquals(200, get("/packages/demo-pkg/data.bin").statusCode(), "connection still usable after HEAD");
    }

    @Test
    void missingFilesDirectoriesAndPrivateFilesAre404() throws Exception {
        for (String p : List.of("/packages/demo-pkg/nope.whl", "/packages/demo-pkg/", "/packages/demo-pkg",
                "/packages/", "/", "/audit.log", "/.pinfleet-index-cache", "/packages/demo-pkg/.hidden",
                "/simple/nope/", "/metrics/", "/simple/demo-pkg/extra/")) {
            assertEquals(404, get(p).statusCode(), p);
        }
    }

    @Test
    void otherMethodsAre405() throws Exception {
        for (String m : List.of("POST", "PUT", "DELETE", "OPTIONS")) {
            HttpResponse<byte[]> r = send(m, WHEEL_PATH);
            assertEquals(405, r.statusCode(), m);
            assertEquals("GET, HEAD", header(r, "allow"));
        }
    }

    @Test
    void singleRangesAreServedWith206() throws Exception {
        HttpResponse<byte[]> r = get("/packages/demo-pkg/data.bin", "Range", "bytes=10-19");
        assertEquals(206, r.statusCode());
        assertEquals("bytes 10-19/10000", header(r, "content-range"));
        assertEquals("10", header(r, "content-length"));
        assertArrayEquals(Arrays.copyOfRange(data, 10, 20), r.body());

        r = get("/packages/demo-pkg/data.bin", "Range", "bytes=9990-");
        assertEquals(206, r.statusCode());
        assertArrayEquals(Arrays.copyOfRange(data, 9990, 10000), r.body());

        r = get("/packages/demo-pkg/data.bin", "Range", "bytes=-5");
        assertEquals("bytes 9995-9999/10000", header(r, "content-range"));
        assertArrayEquals(Arrays.copyOfRange(data, 9995, 10000), r.body());

        r = get("/packages/demo-pkg/data.bin", "Range", "bytes=9000-99999");
        assertEquals("bytes 9000-9999/10000", header(r, "content-range"));
        assertEquals(1000, r.body().length);
    }

    @Test
    void unsatisfiableRangesAre416AndIgnoredRangesGiveTheWholeFile() throws Exception {
        HttpResponse<byte[]> r = get("/packages/demo-pkg/data.bin", "Range", "bytes=10000-");
        assertEquals(416, r.statusCode());
        assertEquals("bytes */10000", header(r, "content-range"));
        assertEquals(416, get("/packages/demo-pkg/data.bin", "Range", "bytes=-0").statusCode());

        assertEquals(200, get("/packages/demo-pkg/data.bin", "Range", "bytes=0-1,5-6").statusCode());
        assertEquals(200, get("/packages/demo-pkg/data.bin", "Range", "items=0-1").statusCode());
        assertEquals(200, get("/packages/demo-pkg/data.bin", "Range", "bytes=5-1").statusCode());
        HttpResponse<byte[]> stale = get("/packages/demo-pkg/data.bin", "Range", "bytes=0-1", "If-Range", "\"old\"");
        assertEquals(200, stale.statusCode());
        assertEquals(10000, stale.body().length);
    }

    @Test
    void matchingValidatorsGive304() throws Exception {
        HttpResponse<byte[]> first = get(WHEEL_PATH);
        String etag = header(first, "etag");
        HttpResponse<byte[]> r = get(WHEEL_PATH, "If-None-Match", "\"other\", " + etag);
        assertEquals(304, r.statusCode());
        assertEquals(0, r.body().length);
        assertEquals(etag, header(r, "etag"));
        assertEquals(304, get(WHEEL_PATH, "If-None-Match", "W/" + etag).statusCode());
        assertEquals(200, get(WHEEL_PATH, "If-None-Match", "\"other\"").statusCode());
        assertEquals(304, get(WHEEL_PATH, "If-Modified-Since", header(first, "last-modified")).statusCode());
        assertEquals(200, get(WHEEL_PATH, "If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT").statusCode());
        HttpResponse<byte[]> range = get(WHEEL_PATH, "Range", "bytes=0-3", "If-Range", etag);
        assertEquals(206, range.statusCode());
    }

    @Test
    void pathEscapesAreRefused() throws Exception {
        List<String> attempts = List.of(
                "/../secret.txt", "/packages/../../secret.txt", "/packages/demo-pkg/../../../secret.txt",
                "/%2e%2e/secret.txt", "/packages/%2E%2E/%2e%2e/secret.txt", "/packages/..%2f..%2fsecret.txt",
                "/packages/demo-pkg%2fdata.bin", "/packages/demo-pkg/data.bin%00", "/packages/%00",
                "/packages\\..\\..\\secret.txt", "/packages/demo-pkg/..\\..\\secret.txt", "//secret.txt",
                "/packages//demo-pkg/data.bin", "/packages/%5c..%5csecret.txt", "/packages/%zz", "/packages/%e9",
                "packages/demo-pkg/data.bin", "/packages/./demo-pkg/data.bin", "/packages/%2e/demo-pkg/data.bin",
                "http://localhost/packages/../secret.txt", "/packages/demo-pkg/%252e%252e/secret.txt");
        for (String target : attempts) {
            RawHttp.Response r = RawHttp.get(port, target);
            assertTrue(r.status() == 400 || r.status() == 404, target + " gave " + r.status());
            assertFalse(r.bodyText().contains("TOP-SECRET"), target);
        }
        assertEquals(200, RawHttp.get(port, "/packages/demo-pkg/data.bin?x=1").status(), "query is ignored");
        assertEquals(200, RawHttp.get(port, "http://localhost/packages/demo-pkg/data.bin").status());
    }

    @Test
    void symlinksResolvingOutsideTheMirrorAreRefused() throws Exception {
        Path secret = tmp.resolve("secret.txt");
        Files.createSymbolicLink(dir.resolve("packages/demo-pkg/evil-1.0-py3-none-any.whl"), secret);
        Files.createSymbolicLink(dir.resolve("packages/outside"), tmp);
        Files.createSymbolicLink(dir.resolve("packages/demo-pkg/audit.log"), dir.resolve("audit.log"));

        for (String p : List.of("/packages/demo-pkg/evil-1.0-py3-none-any.whl", "/packages/outside/secret.txt",
                "/packages/demo-pkg/audit.log")) {
            RawHttp.Response r = RawHttp.get(port, p);
            assertEquals(404, r.status(), p);
            assertFalse(r.bodyText().contains("TOP-SECRET"), p);
        }
    }

    /**
     * Regular files only, as the nginx configuration serves them ({@code disable_symlinks}): a link is refused
     * even when it points to another file of the mirror, as a file, as a directory on the way, or as an index page.
     */
    @Test
    void symbolicLinksAreNotServedEvenWhenTheyPointInsideTheMirror() throws Exception {
        Files.createSymbolicLink(dir.resolve("packages/demo-pkg/inside.bin"), dir.resolve("packages/demo-pkg/data.bin"));
        Files.createSymbolicLink(dir.resolve("packages/alias"), dir.resolve("packages/demo-pkg"));
        Path page = dir.resolve("simple/demo-pkg/index.html");
        Path copy = Files.copy(page, dir.resolve("simple/demo-pkg/copy.html"));
        Files.delete(page);
        Files.createSymbolicLink(page, copy);

        for (String p : List.of("/packages/demo-pkg/inside.bin", "/packages/alias/data.bin", "/simple/demo-pkg/",
                "/simple/demo-pkg/index.html")) {
            assertEquals(404, RawHttp.get(port, p).status(), p);
        }
        assertEquals(200, RawHttp.get(port, "/packages/demo-pkg/data.bin").status(), "the file itself is served");
        Files.delete(page);
        Files.move(copy, page);
        assertEquals(200, RawHttp.get(port, "/simple/demo-pkg/").status(), "the page as a file again");
    }

    @Test
    void simpleIndexServesStaticHtmlAndRedirectsToNormalizedNames() throws Exception {
        HttpResponse<byte[]> root = get("/simple/");
        assertEquals(200, root.statusCode());
        assertEquals("text/html; charset=utf-8", header(root, "content-type"));
        assertTrue(new String(root.body(), StandardCharsets.UTF_8).contains("href=\"demo-pkg/\""));

        HttpResponse<byte[]> page = get("/simple/demo-pkg/");
        assertEquals(200, page.statusCode());
        String html = new String(page.body(), StandardCharsets.UTF_8);
        assertTrue(html.contains("demo_pkg-1.0-py3-none-any.whl#sha256=" + Hashing.sha256Hex(wheel)), html);
        assertTrue(html.contains("data-requires-python=\"&gt;=3.8\""), html);
        assertEquals("Accept", header(page, "vary"));

        assertRedirect("/simple", "/simple/");
        assertRedirect("/simple/Demo.Pkg/", "/simple/demo-pkg/");
        assertRedirect("/simple/DEMO_pkg", "/simple/demo-pkg/");
        assertRedirect("/simple/demo-pkg", "/simple/demo-pkg/");
        assertEquals(200, get("/simple/demo-pkg/index.html").statusCode());
        assertEquals(200, get("/simple/index.html").statusCode());
    }

    private void assertRedirect(String from, String to) throws Exception {
        HttpResponse<byte[]> r = get(from);
        assertEquals(301, r.statusCode(), from);
        assertEquals(to, header(r, "location"), from);
    }

    @Test
    void simpleIndexServesPep691JsonWhenAskedFor() throws Exception {
        String pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
                + "text/html; q=0.01";
        HttpResponse<byte[]> r = get("/simple/demo-pkg/", "Accept", pipAccept);
        assertEquals(200, r.statusCode());
        assertEquals(SimplePages.JSON_TYPE, header(r, "content-type"));
        String json = new String(r.body(), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"name\":\"demo-pkg\""), json);
        assertTrue(json.contains("\"sha256\":\"" + Hashing.sha256Hex(wheel) + "\""), json);
        assertTrue(json.contains("\"requires-python\":\">=3.8\""), json);
        assertEquals(304, get("/simple/demo-pkg/", "Accept", pipAccept, "If-None-Match", header(r, "etag"))
                .statusCode());

        HttpResponse<byte[]> root = get("/simple/", "Accept", SimplePages.JSON_TYPE);
        assertTrue(new String(root.body(), StandardCharsets.UTF_8).contains("{\"name\":\"demo-pkg\"}"));
        assertEquals(404, get("/simple/unknown/", "Accept", SimplePages.JSON_TYPE).statusCode());
        HttpResponse<byte[]> html = get("/simple/demo-pkg/", "Accept", SimplePages.HTML_TYPE);
        assertEquals(SimplePages.HTML_TYPE, header(html, "content-type"));
    }

    @Test
    void manyConcurrentClientsAreServedCorrectly() throws Exception {
        int clients = 50;
        int perClient = 4;
        String expected = Hashing.sha256Hex(wheel);
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            // correctness under concurrency only: how fast is bench/'s business, not a verdict on a shared machine
            List<CompletableFuture<List<String>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                futures.add(CompletableFuture.supplyAsync(() -> keepAliveClient(perClient), pool));
            }
            for (CompletableFuture<List<String>> f : futures) {
                List<String> shas = f.get(30, TimeUnit.SECONDS);
                assertEquals(perClient, shas.size());
                shas.forEach(s -> assertEquals(expected, s));
            }
        } finally {
            pool.shutdownNow();
        }
        String metrics = new String(get("/metrics").body(), StandardCharsets.UTF_8);
        double served = prometheusValue(metrics, "pinfleet_mirror_requests_total{status=\"200\"}");
        assertTrue(served >= clients * perClient, metrics);
    }

    /** One connection, {@code n} keep-alive GETs of the wheel; returns the sha256 of each body. */
    private List<String> keepAliveClient(int n) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(20_000);
            InputStream in = s.getInputStream();
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                s.getOutputStream().write(("GET " + WHEEL_PATH + " HTTP/1.1\r\nHost: x\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.add(Hashing.sha256Hex(readKeepAliveBody(in)));
            }
            return out;
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static byte[] readKeepAliveBody(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed inside the response head: " + head);
            }
            head.append((char) c);
        }
        int length = -1;
        for (String line : head.toString().split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        if (!head.toString().startsWith("HTTP/1.1 200") || length < 0) {
            throw new IOException("unexpected response: " + head);
        }
        return in.readNBytes(length);
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        String req = "GET /packages/demo-pkg/data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n"
                + "GET /packages/demo-pkg/nope HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /packages/demo-pkg/data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1-1\r\nConnection: close\r\n\r\n";
        RawHttp.Response r = RawHttp.send(port, req);
        String all = r.head() + "\r\n\r\n" + r.bodyText();
        int a = all.indexOf("206 Partial Content");
        int b = all.indexOf("404 Not Found");
        int c = all.indexOf("206 Partial Content", a + 1);
        assertTrue(a >= 0 && b > a && c > b, all);
    }

    @Test
    void metricsExposeTheRequestCounterAndBytes() throws Exception {
        get(WHEEL_PATH);
        get("/packages/nope");
        // A request is counted once its last byte is written, which the client may see before the server's write
        // listener runs: scrape until both are counted, at most 50 times 100 ms (seconds of margin on a busy box;
        // the counters themselves are asserted below, not the time they took).
        HttpResponse<byte[]> r = get("/metrics");
        String text = new String(r.body(), StandardCharsets.UTF_8);
        for (int i = 0; i < 50 && (prometheusValue(text, "pinfleet_mirror_requests_total{status=\"200\"}") < 1
                || prometheusValue(text, "pinfleet_mirror_requests_total{status=\"404\"}") < 1); i++) {
            Thread.sleep(100);
            r = get("/metrics");
            text = new String(r.body(), StandardCharsets.UTF_8);
        }
        assertEquals(200, r.statusCode());
        assertTrue(header(r, "content-type").startsWith("text/plain; version=0.0.4"));
        assertTrue(prometheusValue(text, "pinfleet_mirror_requests_total{status=\"200\"}") >= 1, text);
        assertTrue(prometheusValue(text, "pinfleet_mirror_requests_total{status=\"404\"}") >= 1, text);
        assertTrue(prometheusValue(text, "pinfleet_mirror_bytes_served_total") >= Files.size(wheel), text);
        assertTrue(text.contains("pinfleet_mirror_connections_active"), text);
    }

    private static double prometheusValue(String text, String series) {
        for (String line : text.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).strip());
            }
        }
        return -1;
    }

    @Test
    void oversizedRequestLinesAndHeadersAreRefused() throws Exception {
        RawHttp.Response line = RawHttp.get(port, "/packages/" + "a".repeat(10_000));
        assertEquals(414, line.status(), line.head());
        RawHttp.Response headers = RawHttp.send(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(20_000)
                + "\r\n\r\n");
        assertEquals(431, headers.status(), headers.head());
    }

    /**
     * A request head trickled a byte every 500 ms is closed by the 2 s header deadline: each byte comes well inside
     * the 2 s (and the 30 s idle timeout), so only a deadline that trickling does not extend can close it. A busy
     * machine can only delay the bytes, which closes it sooner; the 20 s bound is on the test, not on the server.
     */
    @Test
    void slowRequestHeadsAndIdleConnectionsAreClosed() throws Exception {
        MirrorServer.Options opts = MirrorServer.Options.defaults()
                .withTimeouts(Duration.ofSeconds(30), Duration.ofSeconds(2));
        try (MirrorServer strict = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), opts)) {
            int p = strict.start();
            try (Socket s = new Socket("127.0.0.1", p)) {
                s.setSoTimeout(1);
                s.getOutputStream().write("GET /packages/demo-pkg/data.bin HTTP/1.1\r\nHost: x\r\n"
                        .getBytes(StandardCharsets.ISO_8859_1));
                boolean closed = false;
                for (int i = 0; i < 40 && !closed; i++) { // at most 40 bytes, 20 s
                    Thread.sleep(500);
                    closed = closedByServer(s);
                    if (!closed) {
                        try {
                            s.getOutputStream().write('X'); // trickling bytes does not extend the deadline
                        } catch (IOException reset) {
                            closed = true;
                        }
                    }
                }
                assertTrue(closed, "a head trickled for 20 s was never closed: the header timeout is not a deadline");
            }
            try (Socket idle = new Socket("127.0.0.1", p)) {
                idle.setSoTimeout(30_000);
                assertEquals(-1, idle.getInputStream().read(), "a connection that sends nothing is closed");
            }
        }
    }

    /**
     * True when the server closed {@code s} (a read sees its end or a reset); false when nothing is there yet; an
     * answer fails the test (a slow head is closed unanswered).
     */
    private static boolean closedByServer(Socket s) throws IOException {
        try {
            int b = s.getInputStream().read();
            assertEquals(-1, b, "the server answered a head that never completed");
            return true;
        } catch (java.net.SocketTimeoutException open) {
            return false;
        } catch (java.net.SocketException reset) {
            return true;
        }
    }

    @Test
    void connectionsBeyondTheLimitAreClosed() throws Exception {
        MirrorServer.Options opts = MirrorServer.Options.defaults().withMaxConnections(2);
        try (MirrorServer limited = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), opts);
             Socket a = new Socket("127.0.0.1", limited.start());
             Socket b = new Socket("127.0.0.1", limited.port())) {
            awaitOpenConnections(limited, 2); // the server has registered both
            try (Socket c = new Socket("127.0.0.1", limited.port())) {
                c.setSoTimeout(30_000);
                c.getOutputStream().write("GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                int first = c.getInputStream().read();
                assertEquals(-1, first, "third connection closed without an answer");
            }
            awaitOpenConnections(limited, 2);
            assertTrue(a.isConnected() && b.isConnected());
        }
    }

    /** Waits (at most 30 s) until {@code server} counts exactly {@code n} open connections. */
    static void awaitOpenConnections(MirrorServer server, int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.openConnections() != n) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the server counts " + server.openConnections() + " open connections, not "
                        + n + ", after 30 s");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }
}

package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.SimplePages;
import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.testing.Descriptors;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read-only mirror server over real loopback sockets, as a client sees it: status, headers, body bytes, and
 * when the connection closes. Requests go out as raw bytes ({@link RawHttp}), so targets no HTTP client would send
 * are possible and nothing is hidden by a client library. No test here waits for a timer: PIT runs them once per
 * mutant of {@link MirrorHandler} (the slow-client deadlines are {@link ConnectionGuardTest}'s).
 */
class MirrorServerTest {
    @TempDir
    Path tmp;

    private Path dir;
    private Path wheel;
    private Path dataFile;
    private byte[] data;
    private PrometheusMeterRegistry registry;
    private MirrorServer server;
    private int port;

    private static final String WHEEL_PATH = "/packages/demo-pkg/demo_pkg-1.0-py3-none-any.whl";
    private static final String DATA_PATH = "/packages/demo-pkg/data.bin";

    @BeforeEach
    void start() throws Exception {
        dir = tmp.resolve("mirror");
        Path in = TestWheels.wheel(tmp.resolve("in"), "Demo.Pkg", "1.0", ">=3.8",
                Map.of("demo_pkg/__init__.py", "VALUE = 1\n"));
        new Publisher().publish(dir, in, "test", "1");
        wheel = dir.resolve(WHEEL_PATH.substring(1));
        data = new byte[10_000];
        new Random(42).nextBytes(data);
        dataFile = Files.write(dir.resolve(DATA_PATH.substring(1)), data);
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

    /** {@code GET target} with these header lines ({@code Name: value}): see {@link #send}. */
    private RawHttp.Response get(String target, String... headerLines) throws IOException {
        return send("GET", target, headerLines);
    }

    /** Follows each request on its connection and ends it: answered with a redirect found nowhere else. */
    private static final String SENTINEL = RawHttp.head("GET", "/simple", true);

    /**
     * Sends {@code METHOD target} with these header lines on a kept-alive connection and {@link #SENTINEL} after it,
     * and returns the first answer. A server that leaves the request unanswered, or closes or keeps the connection
     * against what its answer says, fails here at once (the sentinel's answer comes first, or too many or too few
     * answers come) instead of making the client wait for its read timeout: PIT times out a test after seconds and
     * restarts its JVM, which costs far more than a failed assertion.
     */
    private RawHttp.Response send(String method, String target, String... headerLines) throws IOException {
        return sendTo(port, method, target, headerLines);
    }

    /** As {@link #send}, to the server on {@code to}. */
    private static RawHttp.Response sendTo(int to, String method, String target, String... headerLines)
            throws IOException {
        List<RawHttp.Response> rs = RawHttp.pipelined(to, RawHttp.head(method, target, false, headerLines), SENTINEL);
        String what = method + " " + target + " answered " + rs.stream().map(RawHttp.Response::head).toList();
        assertFalse(rs.isEmpty(), what);
        RawHttp.Response first = rs.get(0);
        boolean closes = "close".equalsIgnoreCase(first.header("connection"));
        assertFalse(closes && first.status() == 301 && "/simple/".equals(first.header("location")), "unanswered: " + what);
        assertEquals(closes ? 1 : 2, rs.size(), what);
        return first;
    }

    @Test
    void getServesTheFileWithLengthTypeAndValidators() throws Exception {
        RawHttp.Response r = get(WHEEL_PATH);
        assertEquals(200, r.status());
        assertArrayEquals(Files.readAllBytes(wheel), r.body());
        assertEquals(Long.toString(Files.size(wheel)), r.header("content-length"));
        assertEquals("application/octet-stream", r.header("content-type"));
        assertEquals("bytes", r.header("accept-ranges"));
        assertEquals("nosniff", r.header("x-content-type-options"));
        assertTrue(r.header("etag").matches("\"[0-9a-f]+-[0-9a-f]+\""), r.header("etag"));
        assertTrue(r.header("last-modified").endsWith(" GMT"), r.header("last-modified"));
        assertNull(r.header("vary"), "a file is the same whatever the client accepts: caches keep one copy");
        assertNull(r.header("connection"), "HTTP/1.1 keeps the connection open unless asked");
        assertEquals("close", RawHttp.get(port, WHEEL_PATH).header("connection"), "asked to close, the answer says so");
    }

    /** Each kind of file a mirror holds gets its media type, by extension in any case; an empty file is served empty. */
    @Test
    void filesAreServedWithTheirMediaType() throws Exception {
        Map<String, String> types = Map.of(
                "demo_pkg-1.0-py3-none-any.whl.metadata", "text/plain; charset=utf-8",
                "notes.TXT", "text/plain; charset=utf-8",
                "demo-pkg-1.0.tar.gz", "application/gzip",
                "demo-pkg-1.0.tgz", "application/gzip",
                "demoapp-1.0.zip", "application/zip",
                "about.html", "text/html; charset=utf-8",
                "info.json", "application/json",
                "demo_pkg-1.0-py3-none-any.whl.sig", "application/octet-stream");
        for (Map.Entry<String, String> t : types.entrySet()) {
            Files.writeString(dir.resolve("packages/demo-pkg").resolve(t.getKey()), "content of " + t.getKey());
            RawHttp.Response r = get("/packages/demo-pkg/" + t.getKey());
            assertEquals(200, r.status(), t.getKey());
            assertEquals(t.getValue(), r.header("content-type"), t.getKey());
            assertEquals("content of " + t.getKey(), r.bodyText());
        }
        Files.write(dir.resolve("packages/demo-pkg/empty.bin"), new byte[0]);
        RawHttp.Response empty = get("/packages/demo-pkg/empty.bin");
        assertEquals(200, empty.status(), empty.head());
        assertEquals("0", empty.header("content-length"));
        assertEquals(0, empty.body().length);
    }

    /**
     * HEAD gets the headers of the GET and no body: on a kept-alive connection, the answer to a GET that follows
     * starts right after the HEAD's head (a body sent to HEAD would be read as the next answer).
     */
    @Test
    void headSendsHeadersWithoutABody() throws Exception {
        List<RawHttp.Response> rs = RawHttp.pipelined(port, RawHttp.head("HEAD", DATA_PATH, false),
                RawHttp.head("HEAD", "/simple/demo-pkg/", false, "Accept: " + SimplePages.JSON_TYPE),
                RawHttp.head("HEAD", "/packages/demo-pkg/nope", false),
                RawHttp.head("GET", DATA_PATH, true));
        assertEquals(4, rs.size(), rs.toString());
        assertEquals(200, rs.get(0).status());
        assertEquals("10000", rs.get(0).header("content-length"));
        assertNull(rs.get(0).header("connection"), "HTTP/1.1 keeps the connection open unless asked");
        assertEquals(0, rs.get(0).body().length);
        int json = get("/simple/demo-pkg/", "Accept: " + SimplePages.JSON_TYPE).body().length;
        assertEquals(200, rs.get(1).status());
        assertEquals(Integer.toString(json), rs.get(1).header("content-length"), "the length the GET's body has");
        assertEquals(404, rs.get(2).status());
        assertEquals(200, rs.get(3).status());
        assertArrayEquals(data, rs.get(3).body());
    }

    @Test
    void missingFilesDirectoriesAndPrivateFilesAre404() throws Exception {
        for (String p : List.of("/packages/demo-pkg/nope.whl", "/packages/demo-pkg/", "/packages/demo-pkg",
                "/packages/", "/packages", "/", "/audit.log", "/.pinfleet-index-cache", "/packages/demo-pkg/.hidden",
                "/simple/nope/", "/metrics/", "/metrics/x", "/simple/demo-pkg/extra/", "/simple/demo-pkg/index.html/",
                "/nope")) {
            RawHttp.Response r = get(p);
            assertEquals(404, r.status(), p);
            assertEquals("404 Not Found: not found\n", r.bodyText(), p);
            assertEquals("text/plain; charset=utf-8", r.header("content-type"), p);
        }
    }

    /**
     * Dot-files are never served, though they are regular files inside the mirror: a publish writes each file as a
     * temporary {@code .NAME.RANDOM.tmp} beside its final name and renames it when complete, so a dot-file can be
     * half-written bytes that were never checked.
     */
    @Test
    void dotFilesInsideTheMirrorAreNeverServed() throws Exception {
        List<Path> hidden = List.of(dir.resolve("packages/demo-pkg/.demo_pkg-2.0-py3-none-any.whl.5f3a9c.tmp"),
                dir.resolve("simple/demo-pkg/.index.html.77e1b2.tmp"), dir.resolve("packages/demo-pkg/.hidden"));
        for (Path h : hidden) {
            Files.writeString(h, "TOP-SECRET half-written");
            String target = "/" + dir.relativize(h).toString().replace('\\', '/');
            RawHttp.Response r = get(target);
            assertEquals(404, r.status(), target);
            assertFalse(r.bodyText().contains("TOP-SECRET"), target);
        }
        Files.createDirectories(dir.resolve("packages/.incoming"));
        Files.writeString(dir.resolve("packages/.incoming/x.whl"), "TOP-SECRET upload in progress");
        assertEquals(404, get("/packages/.incoming/x.whl").status(), "a dot-directory on the way");
    }

    @Test
    void otherMethodsAre405AndCloseTheConnection() throws Exception {
        for (String m : List.of("POST", "PUT", "DELETE", "OPTIONS", "PATCH")) {
            RawHttp.Response r = send(m, WHEEL_PATH);
            assertEquals(405, r.status(), m);
            assertEquals("GET, HEAD", r.header("allow"));
            assertEquals("405 Method Not Allowed: this path is read-only (GET, HEAD)\n", r.bodyText(), m);
        }
        RawHttp.Response upload = send("PUT", "/upload/demo-1.0-py3-none-any.whl", "Content-Length: 0");
        assertEquals(405, upload.status());
        assertTrue(upload.bodyText().contains("uploads are not enabled on this mirror (start 'pinfleet mirror serve' "
                + "with --tokens FILE)"), upload.bodyText());
        // a refused request ends its connection: a request sent after it on the same connection is never answered
        List<RawHttp.Response> rs = RawHttp.pipelined(port,
                "POST " + DATA_PATH + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
                RawHttp.head("GET", DATA_PATH, true));
        assertEquals(1, rs.size(), rs.toString());
        assertEquals(405, rs.get(0).status());
        assertEquals("close", rs.get(0).header("connection"));
    }

    @Test
    void singleRangesAreServedWith206() throws Exception {
        RawHttp.Response r = get(DATA_PATH, "Range: bytes=10-19");
        assertEquals(206, r.status());
        assertEquals("bytes 10-19/10000", r.header("content-range"));
        assertEquals("10", r.header("content-length"));
        assertArrayEquals(Arrays.copyOfRange(data, 10, 20), r.body());

        r = get(DATA_PATH, "Range: bytes=9990-");
        assertEquals(206, r.status());
        assertArrayEquals(Arrays.copyOfRange(data, 9990, 10000), r.body());

        r = get(DATA_PATH, "Range: bytes=-5");
        assertEquals("bytes 9995-9999/10000", r.header("content-range"));
        assertArrayEquals(Arrays.copyOfRange(data, 9995, 10000), r.body());

        r = get(DATA_PATH, "Range: bytes=9000-99999");
        assertEquals("bytes 9000-9999/10000", r.header("content-range"));
        assertEquals(1000, r.body().length);

        RawHttp.Response head = send("HEAD", DATA_PATH, "Range: bytes=10-19");
        assertEquals(200, head.status(), "Range applies to GET only (RFC 9110 section 14.2)");
        assertEquals("10000", head.header("content-length"));
        assertNull(head.header("content-range"));
    }

    @Test
    void unsatisfiableRangesAre416AndIgnoredRangesGiveTheWholeFile() throws Exception {
        RawHttp.Response r = get(DATA_PATH, "Range: bytes=10000-");
        assertEquals(416, r.status());
        assertEquals("bytes */10000", r.header("content-range"));
        assertEquals("416 Range Not Satisfiable: the file has 10000 bytes\n", r.bodyText());
        assertEquals(416, get(DATA_PATH, "Range: bytes=-0").status());

        assertEquals(200, get(DATA_PATH, "Range: bytes=0-1,5-6").status());
        assertEquals(200, get(DATA_PATH, "Range: items=0-1").status());
        assertEquals(200, get(DATA_PATH, "Range: bytes=5-1").status());
        RawHttp.Response stale = get(DATA_PATH, "Range: bytes=0-1", "If-Range: \"old\"");
        assertEquals(200, stale.status());
        assertEquals(10000, stale.body().length);
    }

    @Test
    void matchingValidatorsGive304() throws Exception {
        RawHttp.Response first = get(WHEEL_PATH);
        String etag = first.header("etag");
        RawHttp.Response r = get(WHEEL_PATH, "If-None-Match: \"other\", " + etag);
        assertEquals(304, r.status());
        assertEquals(0, r.body().length);
        assertEquals(etag, r.header("etag"));
        assertEquals(first.header("last-modified"), r.header("last-modified"));
        assertNull(r.header("content-type"), "a 304 describes no body");
        assertEquals(304, get(WHEEL_PATH, "If-None-Match: W/" + etag).status());
        assertEquals(200, get(WHEEL_PATH, "If-None-Match: \"other\"").status());
        assertEquals(304, get(WHEEL_PATH, "If-Modified-Since: " + first.header("last-modified")).status());
        assertEquals(200, get(WHEEL_PATH, "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT").status());
        RawHttp.Response range = get(WHEEL_PATH, "Range: bytes=0-3", "If-Range: " + etag);
        assertEquals(206, range.status());
    }

    /**
     * Every answer that does not hand the file to the socket (HEAD, 304, 416) closes the file itself, and the
     * ones that do (GET, 206) have it closed once sent: after each, no descriptor of the server is open on it.
     */
    @Test
    void noAnswerLeavesTheFileOpen() throws Exception {
        String etag = get(DATA_PATH).header("etag");
        awaitNoDescriptorOn(dataFile, "GET");
        send("HEAD", DATA_PATH);
        awaitNoDescriptorOn(dataFile, "HEAD");
        assertEquals(304, get(DATA_PATH, "If-None-Match: " + etag).status());
        awaitNoDescriptorOn(dataFile, "304");
        assertEquals(416, get(DATA_PATH, "Range: bytes=20000-").status());
        awaitNoDescriptorOn(dataFile, "416");
        assertEquals(206, get(DATA_PATH, "Range: bytes=1-2").status());
        awaitNoDescriptorOn(dataFile, "206");
    }

    /**
     * The server closes a file just after the answer is on the wire, which the client can see first: poll, at most
     * 10 s (a working server closes it within milliseconds; a busy box only delays that).
     */
    private static void awaitNoDescriptorOn(Path file, String after) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Descriptors.openOn(file) > 0) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError(file + " is still open 10 s after the answer to " + after);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
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
            RawHttp.Response r = get(target);
            assertTrue(r.status() == 400 || r.status() == 404, target + " gave " + r.status());
            assertFalse(r.bodyText().contains("TOP-SECRET"), target);
        }
        RawHttp.Response dots = get("/packages/%2e%2e/secret.txt");
        assertEquals("400 Bad Request: request path has a '.' or '..' segment\n", dots.bodyText(),
                "the first guard refuses it, by name");
        assertEquals(200, get("/packages/demo-pkg/data.bin?x=1").status(), "query is ignored");
        assertEquals(200, get("http://localhost/packages/demo-pkg/data.bin").status());
    }

    @Test
    void symlinksResolvingOutsideTheMirrorAreRefused() throws Exception {
        Path secret = tmp.resolve("secret.txt");
        Files.createSymbolicLink(dir.resolve("packages/demo-pkg/evil-1.0-py3-none-any.whl"), secret);
        Files.createSymbolicLink(dir.resolve("packages/outside"), tmp);
        Files.createSymbolicLink(dir.resolve("packages/demo-pkg/audit.log"), dir.resolve("audit.log"));

        for (String p : List.of("/packages/demo-pkg/evil-1.0-py3-none-any.whl", "/packages/outside/secret.txt",
                "/packages/demo-pkg/audit.log")) {
            RawHttp.Response r = get(p);
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
            assertEquals(404, get(p).status(), p);
        }
        assertEquals(200, get("/packages/demo-pkg/data.bin").status(), "the file itself is served");
        Files.delete(page);
        Files.move(copy, page);
        assertEquals(200, get("/simple/demo-pkg/").status(), "the page as a file again");
    }

    @Test
    void simpleIndexServesStaticHtmlAndRedirectsToNormalizedNames() throws Exception {
        RawHttp.Response root = get("/simple/");
        assertEquals(200, root.status());
        assertEquals("text/html; charset=utf-8", root.header("content-type"));
        assertTrue(root.bodyText().contains("href=\"demo-pkg/\""));
        assertEquals("Accept", root.header("vary"));

        RawHttp.Response page = get("/simple/demo-pkg/");
        assertEquals(200, page.status());
        String html = new String(page.body(), StandardCharsets.UTF_8);
        assertTrue(html.contains("demo_pkg-1.0-py3-none-any.whl#sha256=" + Hashing.sha256Hex(wheel)), html);
        assertTrue(html.contains("data-requires-python=\"&gt;=3.8\""), html);
        assertEquals("Accept", page.header("vary"));

        assertRedirect("/simple", "/simple/");
        assertRedirect("/simple/Demo.Pkg/", "/simple/demo-pkg/");
        assertRedirect("/simple/DEMO_pkg", "/simple/demo-pkg/");
        assertRedirect("/simple/demo-pkg", "/simple/demo-pkg/");
        assertEquals(200, get("/simple/demo-pkg/index.html").status());
        assertEquals(200, get("/simple/index.html").status());
        // a name that is no project name is not found, never redirected to whatever it normalizes to
        for (String p : List.of("/simple/Caf%C3%A9/", "/simple/A%20B/", "/simple/-Demo-/", "/simple/Demo.Pkg/x/")) {
            RawHttp.Response r = get(p);
            assertEquals(404, r.status(), p);
            assertNull(r.header("location"), p);
        }
    }

    private void assertRedirect(String from, String to) throws Exception {
        RawHttp.Response r = get(from);
        assertEquals(301, r.status(), from);
        assertEquals(to, r.header("location"), from);
        assertEquals("301 Moved Permanently: " + to + "\n", r.bodyText(), from);
    }

    @Test
    void simpleIndexServesPep691JsonWhenAskedFor() throws Exception {
        String pipAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
                + "text/html; q=0.01";
        RawHttp.Response r = get("/simple/demo-pkg/", "Accept: " + pipAccept);
        assertEquals(200, r.status());
        assertEquals(SimplePages.JSON_TYPE, r.header("content-type"));
        assertEquals("Accept", r.header("vary"));
        String json = new String(r.body(), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"name\":\"demo-pkg\""), json);
        assertTrue(json.contains("\"sha256\":\"" + Hashing.sha256Hex(wheel) + "\""), json);
        assertTrue(json.contains("\"requires-python\":\">=3.8\""), json);
        RawHttp.Response same = get("/simple/demo-pkg/", "Accept: " + pipAccept, "If-None-Match: " + r.header("etag"));
        assertEquals(304, same.status());
        assertEquals(r.header("etag"), same.header("etag"));
        assertEquals(200, get("/simple/demo-pkg/", "Accept: " + pipAccept, "If-None-Match: \"other\"").status());

        RawHttp.Response root = get("/simple/", "Accept: " + SimplePages.JSON_TYPE);
        assertTrue(root.bodyText().contains("{\"name\":\"demo-pkg\"}"), root.bodyText());
        assertEquals(404, get("/simple/unknown/", "Accept: " + SimplePages.JSON_TYPE).status());
        RawHttp.Response html = get("/simple/demo-pkg/", "Accept: " + SimplePages.HTML_TYPE);
        assertEquals(SimplePages.HTML_TYPE, html.header("content-type"));
    }

    /** Content negotiation by the Accept header's q-values (RFC 9110 section 12.5.1), as PEP 691 asks. */
    @Test
    void theRepresentationWithTheHighestQualityIsServed() throws Exception {
        Map<String, String> chosen = Map.of(
                "text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.9", SimplePages.JSON_TYPE,
                "application/vnd.pypi.simple.v1+json;q=0", "text/html; charset=utf-8",
                "application/vnd.pypi.simple.latest+json; q=0.2, text/*;q=0.1", SimplePages.JSON_TYPE,
                "image/webp, */*;q=0.8", "text/html; charset=utf-8",
                "application/vnd.pypi.simple.v1+json;q=oops, application/vnd.pypi.simple.latest+html;q=0.3",
                SimplePages.HTML_TYPE,
                // on equal quality, the first one listed
                "application/vnd.pypi.simple.v1+json, text/html", SimplePages.JSON_TYPE,
                "text/html, application/vnd.pypi.simple.v1+json", "text/html; charset=utf-8",
                " ", "text/html; charset=utf-8");
        for (Map.Entry<String, String> c : chosen.entrySet()) {
            RawHttp.Response r = get("/simple/demo-pkg/", "Accept: " + c.getKey());
            assertEquals(200, r.status(), c.getKey());
            assertEquals(c.getValue(), r.header("content-type"), "Accept: " + c.getKey());
        }
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
        String metrics = awaitMetrics("pinfleet_mirror_requests_total{status=\"200\"}", clients * perClient);
        assertTrue(prometheusValue(metrics, "pinfleet_mirror_requests_total{status=\"200\"}") >= clients * perClient,
                metrics);
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
        List<RawHttp.Response> rs = RawHttp.pipelined(port,
                RawHttp.head("GET", DATA_PATH, false, "Range: bytes=0-0"),
                RawHttp.head("GET", "/packages/demo-pkg/nope", false),
                RawHttp.head("GET", DATA_PATH, true, "Range: bytes=1-1"));
        assertEquals(List.of(206, 404, 206), rs.stream().map(RawHttp.Response::status).toList(), rs.toString());
        assertArrayEquals(new byte[] {data[0]}, rs.get(0).body());
        assertArrayEquals(new byte[] {data[1]}, rs.get(2).body());
    }

    /** HTTP/1.0 closes after each answer unless the client asks to keep the connection, and the answer confirms. */
    @Test
    void http10ConnectionsAreKeptAliveOnlyWhenAsked() throws Exception {
        List<RawHttp.Response> rs = RawHttp.pipelined(port,
                "GET " + DATA_PATH + " HTTP/1.0\r\nConnection: keep-alive\r\nRange: bytes=0-0\r\n\r\n",
                "GET " + DATA_PATH + " HTTP/1.0\r\nRange: bytes=1-1\r\n\r\n",
                "GET " + DATA_PATH + " HTTP/1.0\r\n\r\n");
        assertEquals(2, rs.size(), "the second answer closes the connection: " + rs);
        assertEquals("keep-alive", rs.get(0).header("connection"));
        assertArrayEquals(new byte[] {data[0]}, rs.get(0).body());
        assertEquals("close", rs.get(1).header("connection"));
        assertArrayEquals(new byte[] {data[1]}, rs.get(1).body());
    }

    @Test
    void metricsExposeTheRequestCounterAndBytes() throws Exception {
        get(WHEEL_PATH);
        get("/packages/nope");
        awaitMetrics("pinfleet_mirror_requests_total{status=\"404\"}", 1);
        String text = awaitMetrics("pinfleet_mirror_requests_total{status=\"200\"}", 1);
        RawHttp.Response r = get("/metrics");
        assertEquals(200, r.status());
        assertTrue(r.header("content-type").startsWith("text/plain; version=0.0.4"));
        assertEquals("no-store", r.header("cache-control"));
        assertTrue(prometheusValue(text, "pinfleet_mirror_bytes_served_total") >= Files.size(wheel), text);
        assertTrue(text.contains("pinfleet_mirror_connections_active"), text);
    }

    /**
     * Scrapes /metrics until {@code series} reaches {@code atLeast}, at most 50 times 100 ms: a request is counted
     * once its last byte is written, which the client may see before the server's write listener runs (seconds of
     * margin on a busy box; the counters are asserted, not the time they took). Returns the last scrape.
     */
    private String awaitMetrics(String series, double atLeast) throws Exception {
        String text = get("/metrics").bodyText();
        for (int i = 0; i < 50 && prometheusValue(text, series) < atLeast; i++) {
            Thread.sleep(100);
            text = get("/metrics").bodyText();
        }
        assertTrue(prometheusValue(text, series) >= atLeast, series + " below " + atLeast + ":\n" + text);
        return text;
    }

    /** /metrics is Prometheus text: a server whose meters are not in a Prometheus registry has no such page. */
    @Test
    void withoutAPrometheusRegistryMetricsIsNotFound() throws Exception {
        try (MirrorServer plain = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0), new SimpleMeterRegistry())) {
            int p = plain.start();
            RawHttp.Response r = sendTo(p, "GET", "/metrics");
            assertEquals(404, r.status());
            assertEquals("404 Not Found: not found\n", r.bodyText());
            assertEquals(200, sendTo(p, "GET", DATA_PATH).status(), "the mirror itself is served");
        }
    }

    private static double prometheusValue(String text, String series) {
        for (String line : text.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).strip());
            }
        }
        return -1;
    }

    /** Requests the decoder cannot read get their status and the connection closes: what follows is not parsed. */
    @Test
    void oversizedAndMalformedRequestsAreRefusedAndCloseTheConnection() throws Exception {
        RawHttp.Response line = get("/packages/" + "a".repeat(10_000));
        assertEquals(414, line.status(), line.head());
        RawHttp.Response headers = RawHttp.send(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + "b".repeat(20_000)
                + "\r\n\r\n");
        assertEquals(431, headers.status(), headers.head());
        assertEquals("close", headers.header("connection"));
        List<RawHttp.Response> bad = RawHttp.pipelined(port,
                "GET " + DATA_PATH + " HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n",
                RawHttp.head("GET", DATA_PATH, true));
        assertEquals(1, bad.size(), bad.toString());
        assertEquals(400, bad.get(0).status(), bad.get(0).head());
        assertEquals("400 Bad Request: malformed request\n", bad.get(0).bodyText());
        assertEquals("close", bad.get(0).header("connection"));
    }
}

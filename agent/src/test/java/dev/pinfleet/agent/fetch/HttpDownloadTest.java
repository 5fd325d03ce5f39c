package dev.pinfleet.agent.fetch;

import static dev.pinfleet.agent.fetch.FetcherTest.assertContains;
import static dev.pinfleet.agent.testing.FakeMirror.randomBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.testing.LoopbackPorts;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JDK-client transport (the one https mirrors use) called directly, over plain HTTP on loopback against the
 * fake mirror: the same attempt rules as the plain-socket transport, and how the client's own failures are named.
 */
@Timeout(60)
class HttpDownloadTest {
    /** One attempt with limits no scheduler delay comes near (30 s idle, 60 s for the whole response). */
    private static final FetchConfig CFG = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60),
            Duration.ofSeconds(30), 1, Duration.ZERO);

    @TempDir
    Path dir;
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(CFG.connectTimeout()).build();
    private FakeMirror mirror;
    private PartialFile part;

    @BeforeEach
    void start() throws IOException {
        mirror = FakeMirror.start();
        part = PartialFile.create(dir);
    }

    @AfterEach
    void stop() {
        part.delete();
        mirror.close();
        timer.shutdownNow();
    }

    @Test
    void aWholeDownloadAsksForNoRangeAndSaysItDidNotResume() throws Exception {
        byte[] content = randomBytes(100_000, 1);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content);

        assertFalse(run(CFG, a));

        assertEquals(content.length, part.bytes());
        assertEquals(Hashing.sha256Hex(content), part.finish());
        assertNull(mirror.log(a.getPath()).get(0).range());
    }

    @Test
    void aPartialFileIsContinuedWithARangeAndSaysItResumed() throws Exception {
        byte[] content = randomBytes(100_000, 2);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content);
        part.append(Arrays.copyOf(content, 40_000), 40_000);

        assertTrue(run(CFG, a));

        assertEquals("bytes=40000-", mirror.log(a.getPath()).get(0).range());
        assertEquals(Hashing.sha256Hex(content), part.finish());
    }

    @Test
    void aWrongPrefixAnswered200IsReplacedByTheWholeFile() throws Exception {
        byte[] content = randomBytes(1000, 3);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content, Reply.okIgnoringRange());
        part.append(new byte[400], 400);

        assertFalse(run(CFG, a), "a 200 to a range request starts from byte 0");

        assertEquals(Hashing.sha256Hex(content), part.finish());
    }

    @Test
    void notFoundIsNamedWithItsStatus() {
        Artifact a = artifact(randomBytes(100, 4));
        FetchException e = assertThrows(FetchException.class, () -> run(CFG, a));
        assertEquals(Kind.NOT_FOUND, e.kind());
        assertEquals(404, e.httpStatus());
    }

    @Test
    void aRefusedConnectionNamesHostAndPort() throws Exception {
        try (Socket refusing = LoopbackPorts.refusing()) {
            int port = refusing.getLocalPort();
            Artifact a = artifact(randomBytes(100, 5));
            URI url = URI.create("http://127.0.0.1:" + port + "/" + a.getPath());
            FetchException e = assertThrows(FetchException.class,
                    () -> new HttpDownload(client, CFG, timer).run(a, url, part, new Batch()));
            assertEquals(Kind.CONNECTION, e.kind());
            assertContains(e.getMessage(), "cannot connect to 127.0.0.1:" + port + ": ConnectException");
        }
    }

    @Test
    void aMirrorThatNeverAcceptsIsAConnectTimeout() throws Exception {
        // A listening socket whose accept queue is full and never drained: the kernel drops further connection
        // attempts, so only the client's connect timeout (1 s here) ends one.
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            List<Socket> queued = fillAcceptQueue(full);
            try {
                Artifact a = artifact(randomBytes(100, 8));
                URI url = URI.create("http://127.0.0.1:" + full.getLocalPort() + "/" + a.getPath());
                FetchConfig cfg = new FetchConfig(1, Duration.ofSeconds(1), Duration.ofSeconds(60), Duration.ofSeconds(30),
                        1, Duration.ZERO);
                HttpClient quick = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(cfg.connectTimeout()).build();
                FetchException e = assertThrows(FetchException.class,
                        () -> new HttpDownload(quick, cfg, timer).run(a, url, part, new Batch()));
                assertEquals(Kind.TIMEOUT, e.kind());
                assertContains(e.getMessage(), "timed out: no connection within the connect timeout of 1 s");
            } finally {
                LoopbackPorts.release(queued);
            }
        }
    }

    @Test
    void aConnectionClosedBeforeTheResponseIsALostConnection() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread hangingUp = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        s.getInputStream().read();   // the request has begun; no answer
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "hanging-up");
            hangingUp.setDaemon(true);
            hangingUp.start();
            Artifact a = artifact(randomBytes(100, 9));
            URI url = URI.create("http://127.0.0.1:" + server.getLocalPort() + "/" + a.getPath());
            FetchException e = assertThrows(FetchException.class,
                    () -> new HttpDownload(client, CFG, timer).run(a, url, part, new Batch()));
            assertEquals(Kind.CONNECTION, e.kind());
            assertTrue(e.retryable());
            assertContains(e.getMessage(), "request failed: ");
        }
    }

    @Test
    void theConnectionOfARefusedAnswerIsClosedNotLeftOpen() throws Exception {
        // A 503 announcing a body of 100,000 bytes, of which 10 come, on a connection the server keeps open: the
        // attempt ends at the status, and the client must hang up on the rest (a retry loop against a failing mirror
        // would otherwise hold one connection per try). 30 s: far beyond any scheduler delay; the close is at once.
        CountDownLatch clientHungUp = new CountDownLatch(1);
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread answering = new Thread(() -> {
                try (Socket s = server.accept()) {
                    readRequestHead(s.getInputStream());
                    s.getOutputStream().write(("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100000\r\n\r\n"
                            + "0123456789").getBytes(StandardCharsets.US_ASCII));
                    s.getOutputStream().flush();
                    s.setSoTimeout(60_000);
                    if (s.getInputStream().read() < 0) {
                        clientHungUp.countDown();
                    }
                } catch (SocketTimeoutException stillOpen) {
                    // the client kept the connection: the latch stays closed
                } catch (IOException reset) {
                    clientHungUp.countDown();
                }
            }, "unavailable");
            answering.setDaemon(true);
            answering.start();
            Artifact a = artifact(randomBytes(100, 11));
            URI url = URI.create("http://127.0.0.1:" + server.getLocalPort() + "/" + a.getPath());

            FetchException e = assertThrows(FetchException.class,
                    () -> new HttpDownload(client, CFG, timer).run(a, url, part, new Batch()));

            assertEquals(Kind.HTTP_STATUS, e.kind());
            assertEquals(503, e.httpStatus());
            assertTrue(clientHungUp.await(30, TimeUnit.SECONDS), "the client closed the connection of the 503");
        }
    }

    @Test
    void aMirrorThatStallsMidBodyIsATimeoutNamingTheBytesReceived() {
        byte[] content = randomBytes(100_000, 10);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content, Reply.stallAfter(40_000));
        // 2 s without a byte: the mirror stalls for minutes after 40,000 bytes (sent at once, far within 2 s however
        // busy the box), and only the watchdog closing the body stream wakes the read blocked in it
        FetchConfig idle = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(2), 1,
                Duration.ZERO);
        FetchException e = assertThrows(FetchException.class, () -> run(idle, a));
        assertEquals(Kind.TIMEOUT, e.kind());
        assertContains(e.getMessage(), "timed out: no byte from the mirror for 2 s (40000 of 100000 bytes received)");
    }

    @Test
    void aMirrorSilentForTheIdleTimeoutIsATimeout() {
        Artifact a = artifact(randomBytes(1000, 6));
        mirror.put(a.getPath(), new byte[1000], Reply.hang());
        // 1 s without a byte: the mirror hangs for minutes, so only the idle rule ends the attempt
        FetchConfig idle = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(1), 1,
                Duration.ZERO);
        FetchException e = assertThrows(FetchException.class, () -> run(idle, a));
        assertEquals(Kind.TIMEOUT, e.kind());
        assertContains(e.getMessage(), "timed out: no byte from the mirror for 1 s");
    }

    @Test
    void aCancelledBatchStopsTheAttemptBeforeItsRequest() {
        byte[] content = randomBytes(1000, 7);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content);
        Batch batch = new Batch();
        batch.cancel("another artifact failed");
        FetchException e = assertThrows(FetchException.class,
                () -> new HttpDownload(client, CFG, timer).run(a, url(a), part, batch));
        assertEquals(Kind.CANCELLED, e.kind());
        assertContains(e.getMessage(), "cancelled: another artifact failed");
    }

    /**
     * Connects to {@code server} (which never accepts) until its accept queue is full, which shows as a connect that
     * does not complete within 2 s (a connect to a loopback queue with room completes at once); at most 16 tries.
     */
    private static List<Socket> fillAcceptQueue(ServerSocket server) throws IOException {
        List<Socket> queued = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            Socket s = new Socket();
            try {
                s.connect(server.getLocalSocketAddress(), 2000);
                queued.add(s);
            } catch (SocketTimeoutException full) {
                s.close();
                return queued;
            }
        }
        LoopbackPorts.release(queued);
        throw new AssertionError("the accept queue of a socket with a backlog of 1 took 16 connections");
    }

    /** Reads up to the blank line that ends a request head (or the end of the stream). */
    private static void readRequestHead(InputStream in) throws IOException {
        String end = "\r\n\r\n";
        for (int matched = 0; matched < end.length(); ) {
            int c = in.read();
            if (c < 0) {
                return;
            }
            matched = c == end.charAt(matched) ? matched + 1 : c == '\r' ? 1 : 0;
        }
    }

    private boolean run(FetchConfig cfg, Artifact a) throws Exception {
        return new HttpDownload(client, cfg, timer).run(a, url(a), part, new Batch());
    }

    private URI url(Artifact a) {
        return URI.create(mirror.baseUri() + a.getPath());
    }

    private static Artifact artifact(byte[] content) {
        return Artifact.newBuilder().setFilename("a-1.0-py3-none-any.whl").setPath("packages/a-1.0-py3-none-any.whl")
                .setSha256(Hashing.sha256Hex(content)).setSize(content.length).build();
    }
}

package dev.pinfleet.mirror.threat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threat model, <b>Transport</b>: slow-loris clients against the mirror server ({@link MirrorServer}). Connections
 * that send nothing, send half a request head, trickle a request head a byte at a time, or ask for a file and never
 * read it are all closed by the header or idle timeout; while dozens of them are held, a normal client is served;
 * the connection cap refuses the surplus at once and frees up when the timeouts close the slow ones. Every wait is
 * bounded by a deadline; the server's own open-connection count ({@link MirrorServer#openConnections()}) is the
 * witness, never a sleep. The timeouts are 4 s: the slow connections must all be open, and a normal client served,
 * before the first of them times out, which takes well under a second on an idle machine.
 */
@Timeout(60)
class SlowLorisThreatTest {
    /** Connections held per kind of slow client. */
    private static final int HELD = 20;
    private static final Duration HEADER_TIMEOUT = Duration.ofSeconds(4);
    private static final Duration IDLE_TIMEOUT = Duration.ofSeconds(4);
    private static final String WHEEL_PATH = "/packages/demo-pkg/demo_pkg-1.0-py3-none-any.whl";
    private static final String BIG_PATH = "/packages/demo-pkg/big.bin";

    @TempDir
    Path tmp;
    private Path dir;
    private PrometheusMeterRegistry registry;
    private final List<Socket> sockets = new ArrayList<>();
    private final ScheduledExecutorService trickler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "slow-loris-trickler");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void publish() throws Exception {
        dir = tmp.resolve("mirror");
        Path in = TestWheels.wheel(tmp.resolve("in"), "Demo.Pkg", "1.0", ">=3.8",
                Map.of("demo_pkg/__init__.py", "VALUE = 1\n"));
        new Publisher().publish(dir, in, "test", "1");
        byte[] big = new byte[32 << 20];
        new Random(7).nextBytes(big);
        Files.write(dir.resolve(BIG_PATH.substring(1)), big);
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    @AfterEach
    void closeAll() {
        trickler.shutdownNow();
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing a test socket
            }
        }
        registry.close();
    }

    private MirrorServer server(int maxConnections) throws IOException {
        MirrorServer.Options opts = MirrorServer.Options.defaults().withTimeouts(IDLE_TIMEOUT, HEADER_TIMEOUT)
                .withMaxConnections(maxConnections);
        MirrorServer s = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0), registry, opts);
        s.start();
        return s;
    }

    private Socket connect(MirrorServer server) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5_000);
        s.setSoTimeout(30_000);
        return s;
    }

    @Test
    void silentHalfHeadAndTricklingConnectionsAreClosedByTheHeaderTimeoutWhileANormalClientIsServed()
            throws Exception {
        try (MirrorServer server = server(10_000)) {
            List<Socket> slow = new ArrayList<>();
            for (int i = 0; i < HELD; i++) {
                slow.add(connect(server)); // opens TCP, sends nothing
                Socket half = connect(server);
                write(half, "GET " + WHEEL_PATH + " HTTP/1.1\r\nHost: mirror\r\nUser-Agent: slow"); // half a head
                slow.add(half);
                Socket trickle = connect(server);
                write(trickle, "GET " + WHEEL_PATH + " HTTP/1.1\r\n");
                slow.add(trickle);
                trickler.scheduleAtFixedRate(() -> trickleOne(trickle), 100, 100, TimeUnit.MILLISECONDS);
            }
            awaitOpenConnections(server, slow.size());

            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                    + WHEEL_PATH)).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());

            assertEquals(200, r.statusCode());
            assertArrayEquals(Files.readAllBytes(dir.resolve(WHEEL_PATH.substring(1))), r.body());
            assertTrue(server.openConnections() >= slow.size(), "the normal client was served while the "
                    + slow.size() + " slow connections were held (" + server.openConnections() + " open)");
            for (Socket s : slow) {
                assertClosedByServer(s); // within the socket's read timeout of 30 s
            }
            awaitOpenConnections(server, 0);
        }
    }

    @Test
    void aClientThatNeverReadsItsDownloadIsClosedByTheIdleTimeout() throws Exception {
        try (MirrorServer server = server(10_000)) {
            List<Socket> readers = new ArrayList<>();
            long t0 = System.nanoTime(); // before any connection: none can time out before t0 + the idle timeout
            for (int i = 0; i < 4; i++) {
                Socket s = new Socket();
                sockets.add(s);
                s.setReceiveBufferSize(4096);
                s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5_000);
                s.setSoTimeout(30_000);
                write(s, "GET " + BIG_PATH + " HTTP/1.1\r\nHost: mirror\r\n\r\n");
                readers.add(s);
            }
            awaitOpenConnections(server, readers.size());

            awaitOpenConnections(server, 0); // 32 MiB never fit the socket buffers: the writes stall until idle

            // a lower bound only, from a start taken before the connections: a busy machine can only add to it
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= IDLE_TIMEOUT.toMillis() - 100, "closed by the idle timeout, not at once: " + ms + " ms");
            for (Socket s : readers) {
                assertTrue(drain(s) < (32 << 20), "the server gave up before sending the whole file");
            }
        }
    }

    @Test
    void theConnectionCapRefusesTheSurplusAtOnceAndFreesUpWhenTheTimeoutsCloseTheSlowOnes() throws Exception {
        int cap = HELD;
        try (MirrorServer server = server(cap)) {
            List<Socket> slow = new ArrayList<>();
            for (int i = 0; i < cap; i++) {
                slow.add(connect(server));
            }
            awaitOpenConnections(server, cap);

            Socket surplus = connect(server);
            write(surplus, "GET " + WHEEL_PATH + " HTTP/1.1\r\nHost: mirror\r\n\r\n");
            assertEquals(-1, surplus.getInputStream().read(), "a connection beyond the cap is closed unanswered");
            awaitOpenConnections(server, cap);

            for (Socket s : slow) {
                assertClosedByServer(s);
            }
            awaitOpenConnections(server, 0);
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                    + WHEEL_PATH)).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, r.statusCode(), "served again once the slow connections are gone");
        }
    }

    // --- helpers

    private static void write(Socket s, String text) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** Sends one more header byte; quietly stops once the server has closed the connection. */
    private static void trickleOne(Socket s) {
        try {
            if (!s.isClosed()) {
                s.getOutputStream().write('X');
                s.getOutputStream().flush();
            }
        } catch (IOException closedByServer) {
            // the point of the test
        }
    }

    /** The server closes {@code s} (end of stream or reset) without answering, within the socket's read timeout. */
    private static void assertClosedByServer(Socket s) throws IOException {
        try {
            InputStream in = s.getInputStream();
            int b = in.read();
            assertEquals(-1, b, "a slow connection got an answer instead of being closed");
        } catch (SocketTimeoutException e) {
            throw new AssertionError("a slow connection was still open after " + s.getSoTimeout() + " ms", e);
        } catch (SocketException reset) {
            // closed with a reset: also closed
        }
    }

    /** Reads what is left until the server's close (or a reset); the byte count. */
    private static long drain(Socket s) throws IOException {
        long n = 0;
        byte[] buf = new byte[1 << 16];
        try {
            InputStream in = s.getInputStream();
            for (int r; (r = in.read(buf)) >= 0; ) {
                n += r;
            }
        } catch (SocketException reset) {
            // closed with a reset
        }
        return n;
    }

    /** Waits (at most 30 s) until the server counts exactly {@code n} open connections. */
    private static void awaitOpenConnections(MirrorServer server, int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.openConnections() != n) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the mirror counts " + server.openConnections() + " open connections, not "
                        + n + ", after 30 s");
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }
}

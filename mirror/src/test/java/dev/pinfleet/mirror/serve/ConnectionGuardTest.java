package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's per-connection limits ({@link ConnectionGuard}): the request-head deadline and the connection cap.
 * These tests wait real seconds by design (a deadline of 2 s is what they show), so they are kept apart from the
 * request tests of {@link MirrorServerTest}, which PIT runs once per mutant of {@link MirrorHandler}.
 */
class ConnectionGuardTest {
    @TempDir
    Path tmp;

    private MirrorServer server(MirrorServer.Options opts) throws IOException {
        return new MirrorServer(Files.createDirectories(tmp.resolve("mirror")), new InetSocketAddress("127.0.0.1", 0),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT), opts);
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
        try (MirrorServer strict = server(opts)) {
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
        try (MirrorServer limited = server(opts);
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

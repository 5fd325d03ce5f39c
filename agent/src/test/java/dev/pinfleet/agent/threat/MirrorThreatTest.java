package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.Source;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Threat model, <b>Mirror</b>: a mirror that serves other bytes, more bytes, endless bytes, nothing, a trickle, a
 * redirect, server errors or connection resets cannot get anything unverified onto a node. One real agent (real gRPC
 * on loopback, real python) has two mirrors: {@link FakeMirror} (the JDK's HTTP server, first) and {@link RawMirror}
 * (a raw socket server that can reset connections and counts the bytes it gets rid of, second). Release 1 is deployed
 * once; each case then deploys a manifest with a wheel of its own that both mirrors misbehave on, and asserts that the
 * deploy fails in FETCH with an error that names the node, the file, each mirror URL with its reason and its number of
 * tries; that `current` did not move; that the wheel's sha256 is not in the store; and that the agent root holds
 * nothing half-written ({@link CleanRoot}). Fetch limits are configured small (fetch-* keys) to keep this quick,
 * but not below what a busy machine needs: the same agent also makes the healthy downloads (release 1, the
 * failover), which a 2 s gap between two bytes of a loopback download never interrupts. The cases assert which rule
 * stopped a download (by its error), not how long that took.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(60)
class MirrorThreatTest {
    private static final String APP = "shop";
    private static final int TRIES = 2;
    private static final Duration IDLE = Duration.ofSeconds(2);

    private Path dir;
    private FakeMirror first;
    private RawMirror second;
    private FakeMirror elsewhere;
    private TestFleet fleet;
    private Agent agent;
    private Path wheels;
    private Artifact base;
    private final AtomicLong serial = new AtomicLong();

    @BeforeAll
    void startAgentOnReleaseOne(@TempDir Path tmp) throws Exception {
        dir = tmp;
        first = FakeMirror.start();
        second = RawMirror.start();
        elsewhere = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), first.baseUri(), second.baseUri());
        String python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        agent = fleet.start("n1", Map.of("python", python, "fetch-tries", Integer.toString(TRIES),
                "fetch-backoff", "10ms", "fetch-idle-timeout", IDLE.toMillis() + "ms", "fetch-min-speed", "1K",
                "fetch-request-timeout", "60s"));
        wheels = Files.createDirectories(dir.resolve("wheels"));
        Path baseWheel = TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n").build(wheels);
        first.put(baseWheel.getFileName().toString(), Files.readAllBytes(baseWheel));
        base = TestWheels.wheelArtifact(baseWheel);
        DeployReport r = deploy(base);
        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
    }

    @AfterAll
    void stop() {
        for (AutoCloseable c : new AutoCloseable[] {fleet, first, second, elsewhere}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    @Test
    void differentBytesAreRefusedOnEveryMirrorAndNeverRetried() throws Exception {
        Attack x = attack("wrongbytes", 20_000);
        byte[] evil = FakeMirror.randomBytes(x.content.length, 1);
        byte[] evil2 = FakeMirror.randomBytes(x.content.length, 2);
        first.put(x.file, x.content, Reply.bytes(evil));
        second.put(x.file, RawMirror.ok(evil2));

        x.assertRefused("checksum mismatch: expected sha256 " + x.artifact.getSha256() + ", got "
                        + Hashing.sha256Hex(evil) + " over " + evil.length + " bytes (1 try)",
                "got " + Hashing.sha256Hex(evil2) + " over " + evil2.length + " bytes (1 try)", "in 2 tries");
        assertEquals(1, first.requests(x.file), "wrong bytes are not asked for again on the same mirror");
        assertEquals(1, second.requests(x.file));
    }

    @Test
    void extraBytesAreRefusedWhetherAnnouncedOrStreamed() throws Exception {
        Attack x = attack("extrabytes", 20_000);
        byte[] longer = Arrays.copyOf(x.content, x.content.length + 5_000);
        first.put(x.file, x.content, Reply.bytes(longer)); // announces 25,000 bytes in Content-Length
        second.put(x.file, RawMirror.ok(longer).withoutLength()); // sends 25,000 bytes, ended by closing

        x.assertRefused(first.baseUri() + x.file + ": mirror announced " + longer.length
                        + " bytes (Content-Length) where " + x.content.length + " of the expected " + x.content.length
                        + " bytes were due (1 try)",
                second.baseUri() + x.file + ": mirror sent more than the expected " + x.content.length
                        + " bytes; cut after " + (x.content.length + 1) + " (1 try)");
    }

    @Test
    void endlessBodyIsCutAtDeclaredSizePlusOne() throws Exception {
        Attack x = attack("endless", 30_000);
        first.put(x.file, x.content, Reply.endless()); // chunked, without end
        RawMirror.Endless endless = RawMirror.endless(x.content);
        second.put(x.file, endless); // ended by closing, which it never does

        x.assertRefused(first.baseUri() + x.file + ": mirror sent more than the expected " + x.content.length
                        + " bytes; cut after " + (x.content.length + 1) + " (1 try)",
                second.baseUri() + x.file + ": mirror sent more than the expected " + x.content.length
                        + " bytes; cut after " + (x.content.length + 1) + " (1 try)");
        assertTrue(endless.hungUp.await(30, TimeUnit.SECONDS), "the agent hung up on the endless body");
        assertEquals(x.content.length + 1, endless.sentBeforeHangUp.get(),
                "the raw mirror sent the declared size plus one byte, then waited: the agent read exactly those and"
                        + " closed the connection instead of reading on");
        assertEquals(x.content.length + 1, endless.sent.get(), "not a byte more left the mirror");
    }

    @Test
    void hungMirrorIsAbandonedAfterTheIdleTimeout() throws Exception {
        Attack x = attack("hung", 20_000);
        first.put(x.file, x.content, Reply.hang());
        second.put(x.file, RawMirror.hang());

        x.assertRefused(first.baseUri() + x.file + ": timed out: no byte from the mirror for 2 s (0 of "
                        + x.content.length + " bytes received) (2 tries)",
                second.baseUri() + x.file + ": timed out: no byte from the mirror for 2 s (0 of "
                        + x.content.length + " bytes received) (2 tries)", "in 4 tries");
        assertEquals(TRIES, first.requests(x.file));
        assertEquals(TRIES, second.requests(x.file));
    }

    @Test
    void tricklingMirrorIsAbandonedBelowTheMinimumSpeed() throws Exception {
        Attack x = attack("trickle", 20_000);
        first.put(x.file, x.content, Reply.trickle(Duration.ofMillis(100)));
        second.put(x.file, RawMirror.trickle(x.content, Duration.ofMillis(100)));

        // one byte per 100 ms (fewer when the machine is busy) would take 2,000 s for this wheel; the 60 s request
        // timeout would stop each try too, with another message: four windows of 2 s refuse it
        DeployReport r = x.assertRefused(first.baseUri() + x.file + ": too slow: ",
                second.baseUri() + x.file + ": too slow: ", "below the minimum speed of 1024 bytes/s", "(2 tries)",
                "in 4 tries");
        assertFalse(r.getError().contains("no byte from the mirror"), "bytes kept coming; the speed rule stopped it: "
                + r.getError());
        assertFalse(r.getError().contains("request timeout"), "the speed rule, not the deadline: " + r.getError());
        assertEquals(TRIES, first.requests(x.file));
        assertEquals(TRIES, second.requests(x.file));
    }

    @ParameterizedTest(name = "Location: {0}")
    @ValueSource(strings = {"http://ELSEWHERE/FILE", "file:///etc/passwd", "https://ELSEWHERE/FILE"})
    void redirectToAnotherHostOrSchemeIsRefusedNotFollowed(String target) throws Exception {
        Attack x = attack("redirect" + serial.get(), 10_000);
        elsewhere.put(x.file, x.content);
        String to = target.replace("ELSEWHERE", elsewhere.baseUri().getRawAuthority()).replace("FILE", x.file);
        first.put(x.file, x.content, Reply.redirect(302, to));
        second.put(x.file, RawMirror.redirect(301, to));

        x.assertRefused(first.baseUri() + x.file + ": HTTP 302 redirect to " + to
                        + " refused: redirects are never followed (1 try)",
                second.baseUri() + x.file + ": HTTP 301 redirect to " + to
                        + " refused: redirects are never followed (1 try)");
        assertEquals(0, elsewhere.requests(), "the redirect target is never contacted");
    }

    @Test
    void serverErrorsAndResetsAreRetriedABoundedNumberOfTimesThenRefused() throws Exception {
        Attack x = attack("errors", 20_000);
        first.put(x.file, x.content, Reply.status(503));
        second.put(x.file, RawMirror.reset());

        x.assertRefused("cannot fetch " + x.file, "from any of 2 mirrors in 4 tries",
                first.baseUri() + x.file + ": HTTP 503 (2 tries)",
                second.baseUri() + x.file + ": connection lost before the response head: ", "Connection reset",
                "(2 tries)");
        assertEquals(TRIES, first.requests(x.file), "fetch-tries on the first mirror");
        assertEquals(TRIES, second.requests(x.file), "then fetch-tries on the second, then no more");
    }

    @Test
    void serverErrorsFailOverToTheSecondMirrorAfterBoundedRetries() throws Exception {
        Attack x = attack("failover", 20_000);
        first.put(x.file, x.content, Reply.status(500), Reply.status(502), Reply.ok());
        second.put(x.file, RawMirror.ok(x.content));

        DeployReport r = deploy(base, x.artifact);

        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
        ArtifactResult got = r.getArtifactsList().stream().filter(a -> a.getFilename().equals(x.file)).findFirst()
                .orElseThrow();
        assertEquals(second.baseUri() + x.file, got.getUrl(), "served by the second mirror");
        assertEquals(Source.MIRROR, got.getSource());
        assertEquals(TRIES + 1, got.getTries(), "fetch-tries on the first mirror, one on the second");
        assertEquals(TRIES, first.requests(x.file), "the first mirror is left after fetch-tries, never asked a third time");
        assertEquals(r.getRelease(), CleanRoot.current(fleet.root("n1"), APP));
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
    }

    // --- helpers

    /** A wheel of its own for one case, with about {@code payload} bytes of incompressible data. */
    private Attack attack(String name, int payload) throws IOException {
        Path w = TestWheels.wheel(name, "1.0").file(name + "/__init__.py", "X = 1\n")
                .file(name + "/blob.bin", FakeMirror.randomBytes(payload, name.hashCode()), 0100644).build(wheels);
        return new Attack(w.getFileName().toString(), Files.readAllBytes(w), TestWheels.wheelArtifact(w));
    }

    private DeployReport deploy(Artifact... artifacts) {
        return fleet.deploy(agent, fleet.sign(TestFleet.manifest(APP, serial.incrementAndGet(), List.of(artifacts))
                .build())).report();
    }

    /** One case's wheel: its file name (and mirror path), bytes and manifest entry. */
    private final class Attack {
        final String file;
        final byte[] content;
        final Artifact artifact;

        Attack(String file, byte[] content, Artifact artifact) {
            this.file = file;
            this.content = content;
            this.artifact = artifact;
        }

        /**
         * Deploys release 1's wheel plus this one and asserts the refusal: FAILED in FETCH, an error naming the node,
         * the file and every one of {@code reasons}; `current` unchanged; this wheel's sha256 not in the store; a
         * clean agent root.
         */
        DeployReport assertRefused(String... reasons) throws IOException {
            Path root = fleet.root("n1");
            String before = CleanRoot.current(root, APP);
            assertNotEquals(null, before);

            DeployReport r = deploy(base, artifact);

            assertEquals(Outcome.FAILED, r.getOutcome(), "refused, not " + r.getOutcome() + ": " + r.getError());
            assertEquals(Phase.FETCH, r.getFailedPhase(), r.getError());
            assertTrue(r.getError().startsWith("node n1: cannot fetch " + file + " (sha256 " + artifact.getSha256()
                    + ", " + content.length + " bytes) from any of 2 mirrors in "), r.getError());
            for (String reason : reasons) {
                assertTrue(r.getError().contains(reason), "'" + reason + "' not in: " + r.getError());
            }
            assertEquals(before, CleanRoot.current(root, APP), "`current` must not move");
            String sha = artifact.getSha256();
            assertFalse(Files.exists(root.resolve("store/sha256").resolve(sha.substring(0, 2)).resolve(sha)),
                    "the refused wheel is not in the store");
            CleanRoot.assertNothingHalfWritten(root);
            return r;
        }
    }

    /**
     * A package mirror on a raw loopback socket, for what the JDK's HTTP server cannot do: reset a connection (RST),
     * end a body by closing without Content-Length, and count exactly the body bytes it got rid of. One thread per
     * connection; the request head is read, the path looked up, its {@link Behaviour} run; unknown paths get 404.
     */
    static final class RawMirror implements AutoCloseable {
        /** How the mirror answers a request for one path; the connection is closed afterwards. */
        interface Behaviour {
            void answer(Socket s, OutputStream out, CountDownLatch closing) throws IOException;
        }

        private final ServerSocket server;
        private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "raw-mirror");
            t.setDaemon(true);
            return t;
        });
        private final Map<String, Behaviour> paths = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> requests = new ConcurrentHashMap<>();
        private final CountDownLatch closing = new CountDownLatch(1);

        private RawMirror() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            threads.execute(this::acceptLoop);
        }

        static RawMirror start() throws IOException {
            return new RawMirror();
        }

        URI baseUri() {
            return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/");
        }

        void put(String path, Behaviour b) {
            paths.put(path, b);
        }

        int requests(String path) {
            AtomicInteger n = requests.get(path);
            return n == null ? 0 : n.get();
        }

        @Override
        public void close() {
            closing.countDown();
            try {
                server.close();
            } catch (IOException ignored) {
                // stopping anyway
            }
            threads.shutdownNow();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    threads.execute(() -> serve(s));
                } catch (IOException e) {
                    return; // closed
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                s.setSoTimeout(10_000);
                String path = readHead(s.getInputStream());
                requests.computeIfAbsent(path, p -> new AtomicInteger()).incrementAndGet();
                Behaviour b = paths.get(path);
                OutputStream out = s.getOutputStream();
                if (b == null) {
                    out.write(head(404, "Content-Length: 0\r\n"));
                } else {
                    b.answer(s, out, closing);
                }
                out.flush();
            } catch (IOException e) {
                // the agent hung up, or the behaviour dropped the connection
            }
        }

        /** Reads the request head (at most 64 KiB) and returns its path without the leading '/'. */
        private static String readHead(InputStream in) throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int matched = 0;
            while (matched < 4) {
                int c = in.read();
                if (c < 0 || head.size() > 65_536) {
                    throw new IOException("no complete request head");
                }
                head.write(c);
                matched = (c == "\r\n\r\n".charAt(matched)) ? matched + 1 : (c == '\r' ? 1 : 0);
            }
            String line = head.toString(StandardCharsets.ISO_8859_1).lines().findFirst().orElse("");
            String[] parts = line.split(" ");
            return parts.length > 1 && parts[1].startsWith("/") ? parts[1].substring(1) : "";
        }

        static byte[] head(int status, String headers) {
            return ("HTTP/1.1 " + status + " X\r\nConnection: close\r\n" + headers + "\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1);
        }

        /** 200 with {@code body} and its Content-Length; {@link Ok#withoutLength()} ends it by closing instead. */
        static Ok ok(byte[] body) {
            return new Ok(body, true);
        }

        record Ok(byte[] body, boolean withLength) implements Behaviour {
            Ok withoutLength() {
                return new Ok(body, false);
            }

            @Override
            public void answer(Socket s, OutputStream out, CountDownLatch closing) throws IOException {
                out.write(head(200, withLength ? "Content-Length: " + body.length + "\r\n" : ""));
                out.write(body);
            }
        }

        /** Resets the connection (RST, by closing with a zero linger) once the request head has arrived. */
        static Behaviour reset() {
            return (s, out, closing) -> {
                s.setSoLinger(true, 0);
                s.close();
            };
        }

        /** A redirect to {@code location}. */
        static Behaviour redirect(int status, String location) {
            return (s, out, closing) -> out.write(head(status, "Location: " + location + "\r\nContent-Length: 0\r\n"));
        }

        /** Never answers, until the mirror closes. */
        static Behaviour hang() {
            return (s, out, closing) -> {
                try {
                    closing.await(5, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
        }

        /** Announces the whole content and sends one byte every {@code every}, until the agent hangs up. */
        static Behaviour trickle(byte[] content, Duration every) {
            return (s, out, closing) -> {
                out.write(head(200, "Content-Length: " + content.length + "\r\n"));
                for (byte b : content) {
                    out.write(b);
                    out.flush();
                    try {
                        if (closing.await(every.toMillis(), TimeUnit.MILLISECONDS)) {
                            return;
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            };
        }

        static Endless endless(byte[] content) {
            return new Endless(content);
        }

        /**
         * 200 without Content-Length (the body ends when the connection does): the content plus one byte, then a
         * pause to see whether the agent hangs up; if it does not within 15 s, bytes without end (up to 1 GiB) until
         * it does. Counts the body bytes written before the agent hung up. (An agent that hangs up at once ends the
         * pause at once: the 15 s only bound how long a busy machine may take to get the agent to read and close.)
         */
        static final class Endless implements Behaviour {
            final byte[] content;
            final AtomicLong sent = new AtomicLong();
            final AtomicLong sentBeforeHangUp = new AtomicLong(-1);
            final CountDownLatch hungUp = new CountDownLatch(1);

            Endless(byte[] content) {
                this.content = content;
            }

            @Override
            public void answer(Socket s, OutputStream out, CountDownLatch closing) throws IOException {
                out.write(head(200, ""));
                out.write(content);
                out.write('x');
                out.flush();
                sent.addAndGet(content.length + 1);
                if (awaitHangUp(s, Duration.ofSeconds(15))) {
                    return;
                }
                byte[] more = new byte[8192];
                Arrays.fill(more, (byte) 'x');
                try {
                    while (sent.get() < (1L << 30) && closing.getCount() > 0) {
                        out.write(more);
                        sent.addAndGet(more.length);
                    }
                } catch (IOException agentHungUp) {
                    sentBeforeHangUp.set(sent.get());
                    hungUp.countDown();
                    throw agentHungUp;
                }
            }

            /** True when the agent closed its end within {@code d} (a read sees the end of stream or a reset). */
            private boolean awaitHangUp(Socket s, Duration d) throws IOException {
                s.setSoTimeout((int) d.toMillis());
                try {
                    int c = s.getInputStream().read();
                    if (c >= 0) {
                        return false; // the agent sends nothing after its request; not a hang-up
                    }
                } catch (SocketTimeoutException stillReading) {
                    return false;
                } catch (IOException reset) {
                    // a reset is a hang-up too
                }
                sentBeforeHangUp.set(sent.get());
                hungUp.countDown();
                return true;
            }
        }
    }
}

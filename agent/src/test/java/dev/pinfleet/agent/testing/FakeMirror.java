package dev.pinfleet.agent.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A package mirror on loopback (port 0) that misbehaves on request: per path a script of {@link Reply}s, one per
 * request (the last one repeats). Records every request (method, Range header) and the most requests it was
 * answering at once. Closing releases hung handlers and stops the server.
 *
 * <pre>{@code
 * try (FakeMirror m = FakeMirror.start()) {
 *     m.put("packages/a.whl", bytes, Reply.status(500), Reply.ok());
 *     URI base = m.baseUri();
 * }
 * }</pre>
 */
public final class FakeMirror implements AutoCloseable {
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake-mirror");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final List<Recorded> log = new CopyOnWriteArrayList<>();
    private final CountDownLatch closing = new CountDownLatch(1);
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();

    /** One request as the mirror saw it. {@code range} is the Range header or null. */
    public record Recorded(String path, String method, String range) {}

    private record Entry(byte[] content, List<Reply> script, AtomicInteger count) {}

    private FakeMirror() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    /** Starts a mirror on a free loopback port. */
    public static FakeMirror start() throws IOException {
        return new FakeMirror();
    }

    /** Base URL, e.g. {@code http://127.0.0.1:41234/}. */
    public URI baseUri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
    }

    /**
     * Publishes {@code content} at {@code path} (relative, decoded form). Requests are answered by {@code script} in
     * order, the last reply repeating; with no script, {@link Reply#ok()}.
     */
    public FakeMirror put(String path, byte[] content, Reply... script) {
        List<Reply> s = script.length == 0 ? List.of(Reply.ok()) : List.of(script);
        entries.put(path, new Entry(content, s, new AtomicInteger()));
        return this;
    }

    /** Requests received for {@code path}. */
    public int requests(String path) {
        return (int) log.stream().filter(r -> r.path().equals(path)).count();
    }

    /** Requests received in total. */
    public int requests() {
        return log.size();
    }

    /** Every request for {@code path}, in arrival order. */
    public List<Recorded> log(String path) {
        return log.stream().filter(r -> r.path().equals(path)).toList();
    }

    /** The most requests the mirror was working on at once (see {@link Reply#delayed}). */
    public int maxConcurrent() {
        return maxInFlight.get();
    }

    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath().substring(1);
        String range = ex.getRequestHeaders().getFirst("Range");
        log.add(new Recorded(path, ex.getRequestMethod(), range));
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        Call call = new Call(ex, range);
        try {
            Entry e = entries.get(path);
            if (e == null) {
                call.doneCounting();
                Reply.status(404).respond(call, new byte[0]);
                return;
            }
            int n = e.count().getAndIncrement();
            Reply reply = e.script().get(Math.min(n, e.script().size() - 1));
            reply.respond(call, e.content());
        } finally {
            call.doneCounting();
            ex.close();
        }
    }

    /** One request being answered. */
    public final class Call {
        private final HttpExchange exchange;
        private final String range;
        private boolean counted = true;

        private Call(HttpExchange exchange, String range) {
            this.exchange = exchange;
            this.range = range;
        }

        HttpExchange exchange() {
            return exchange;
        }

        /** Offset asked for with {@code Range: bytes=N-}, or -1. */
        long rangeStart() {
            if (range == null) {
                return -1;
            }
            Matcher m = RANGE.matcher(range);
            return m.matches() ? Long.parseLong(m.group(1)) : -1;
        }

        /** Stops counting this request as in flight (before its response is sent, so counts never overlap). */
        void doneCounting() {
            if (counted) {
                counted = false;
                inFlight.decrementAndGet();
            }
        }

        /**
         * Waits until the mirror has been answering {@code n} requests at once (at most {@code max}, or until it
         * closes); true when it has.
         */
        boolean awaitConcurrent(int n, Duration max) {
            long deadline = System.nanoTime() + max.toNanos();
            while (maxInFlight.get() < n && System.nanoTime() - deadline < 0) {
                if (pause(Duration.ofMillis(2))) {
                    break;
                }
            }
            return maxInFlight.get() >= n;
        }

        /** Waits {@code d} or until the mirror closes; true when it closes. */
        boolean pause(Duration d) {
            try {
                return closing.await(d.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
        }
    }

    /** How the mirror answers one request. */
    @FunctionalInterface
    public interface Reply {
        void respond(Call call, byte[] content) throws IOException;

        /** 200 with the content (Content-Length set), or 206 for {@code Range: bytes=N-}. */
        static Reply ok() {
            return (call, content) -> {
                call.doneCounting();
                long from = call.rangeStart();
                HttpExchange ex = call.exchange();
                if (from > 0 && from < content.length) {
                    ex.getResponseHeaders().set("Content-Range",
                            "bytes " + from + "-" + (content.length - 1) + "/" + content.length);
                    send(ex, 206, Arrays.copyOfRange(content, (int) from, content.length));
                } else {
                    send(ex, 200, content);
                }
            };
        }

        /** Like {@link #ok()} but holds the request for {@code d} first (counted as in flight meanwhile). */
        static Reply delayed(Duration d) {
            return (call, content) -> {
                call.pause(d);
                ok().respond(call, content);
            };
        }

        /**
         * Like {@link #ok()}, once the mirror has been answering {@code n} requests at once: a request waits (at most
         * 10 s) for others to arrive, so that a test sees downloads overlap whatever the scheduler does. Once that
         * happened, later requests do not wait. A client that never asks in parallel gets its answers 10 s late.
         */
        static Reply overlapping(int n) {
            return (call, content) -> {
                call.awaitConcurrent(n, Duration.ofSeconds(10));
                ok().respond(call, content);
            };
        }

        /**
         * Held until {@code gate} opens (at most 60 s), then {@link #ok()}: keeps a download, and so its deploy, in
         * flight for as long as a test needs, with no guess at how long that is.
         */
        static Reply gated(CountDownLatch gate) {
            return (call, content) -> {
                try {
                    if (!gate.await(60, TimeUnit.SECONDS)) {
                        throw new IOException("test gate never opened");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("mirror closing", e);
                }
                ok().respond(call, content);
            };
        }

        /** 200 with the whole content, ignoring any Range header (a server without range support). */
        static Reply okIgnoringRange() {
            return (call, content) -> {
                call.doneCounting();
                send(call.exchange(), 200, content);
            };
        }

        /** The status with an empty body. */
        static Reply status(int status) {
            return (call, content) -> {
                call.doneCounting();
                call.exchange().sendResponseHeaders(status, -1);
            };
        }

        /** 200 with other bytes than the published ones (a corrupt or malicious mirror). */
        static Reply bytes(byte[] other) {
            return (call, content) -> {
                call.doneCounting();
                send(call.exchange(), 200, other);
            };
        }

        /** A redirect to {@code location}. */
        static Reply redirect(int status, String location) {
            return (call, content) -> {
                call.doneCounting();
                call.exchange().getResponseHeaders().set("Location", location);
                call.exchange().sendResponseHeaders(status, -1);
            };
        }

        /** Chunked 200: the content followed by bytes without end (until the client hangs up). */
        static Reply endless() {
            return (call, content) -> {
                call.doneCounting();
                HttpExchange ex = call.exchange();
                ex.sendResponseHeaders(200, 0);
                OutputStream out = ex.getResponseBody();
                out.write(content);
                byte[] more = new byte[8192];
                Arrays.fill(more, (byte) 'x');
                for (long sent = 0; sent < (1L << 30) && !call.pause(Duration.ZERO); sent += more.length) {
                    out.write(more);
                }
            };
        }

        /** Chunked 200 with only the first {@code n} bytes, then a clean end of body. */
        static Reply truncated(int n) {
            return (call, content) -> {
                call.doneCounting();
                HttpExchange ex = call.exchange();
                ex.sendResponseHeaders(200, 0);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(content, 0, n);
                }
            };
        }

        /**
         * Announces the whole content (Content-Length), sends the first {@code n} bytes, lets the client read them,
         * then drops the connection. Honours a Range request like {@link #ok()} for its first bytes.
         */
        static Reply resetAfter(int n) {
            return (call, content) -> {
                call.doneCounting();
                HttpExchange ex = call.exchange();
                ex.sendResponseHeaders(200, content.length);
                OutputStream out = ex.getResponseBody();
                out.write(content, 0, n);
                out.flush();
                // Throwing closes the connection in order (FIN after the n bytes; the client reports "connection
                // closed with … bytes of the announced Content-Length due"), so the client gets all n bytes whenever
                // it runs: the test's Range: bytes=n- does not depend on this pause.
                call.pause(Duration.ofMillis(100));
                throw new IOException("fake mirror drops the connection after " + n + " bytes");
            };
        }

        /** Announces the whole content and sends one byte every {@code every} (a trickling mirror). */
        static Reply trickle(Duration every) {
            return (call, content) -> {
                call.doneCounting();
                HttpExchange ex = call.exchange();
                ex.sendResponseHeaders(200, content.length);
                OutputStream out = ex.getResponseBody();
                for (byte b : content) {
                    out.write(b);
                    out.flush();
                    if (call.pause(every)) {
                        throw new IOException("mirror closing");
                    }
                }
            };
        }

        /** Never answers: no status line, no headers, until the mirror closes. */
        static Reply hang() {
            return (call, content) -> {
                call.doneCounting();
                call.pause(Duration.ofMinutes(5));
                throw new IOException("mirror closing");
            };
        }

        /** Announces the whole content, sends {@code n} bytes, then stalls until the mirror closes. */
        static Reply stallAfter(int n) {
            return (call, content) -> {
                call.doneCounting();
                HttpExchange ex = call.exchange();
                ex.sendResponseHeaders(200, content.length);
                OutputStream out = ex.getResponseBody();
                out.write(content, 0, n);
                out.flush();
                call.pause(Duration.ofMinutes(5));
                throw new IOException("mirror closing");
            };
        }

        private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
            ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    /** {@code n} pseudo-random bytes from {@code seed}. */
    public static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }
}

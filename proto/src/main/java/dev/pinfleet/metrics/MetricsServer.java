package dev.pinfleet.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.pinfleet.concurrent.DaemonThreads;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Serves a meter registry's Prometheus text over HTTP (the agent's and the controller's {@code /metrics}): {@code GET /metrics} (and {@code HEAD}) answers the Prometheus text
 * format 0.0.4; any other path is 404, any other method 405. One daemon thread, so a flood of scrapes cannot
 * take threads from deploys or rollouts. Plain HTTP: metrics name no secret, and the listen address (config key
 * {@code metrics-listen}) decides who can reach it.
 */
public final class MetricsServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(MetricsServer.class.getName());
    /** The only path served. */
    public static final String PATH = "/metrics";
    /** Content type of the answer: Prometheus text format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final HttpServer server;
    private final ExecutorService executor;

    private MetricsServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Listens on {@code address} (port 0 picks a free one) and serves what {@code scrape} returns (Prometheus text
     * in {@link #CONTENT_TYPE}) for each request.
     *
     * @throws IOException naming the address when it cannot be bound
     */
    public static MetricsServer start(InetSocketAddress address, Supplier<String> scrape) throws IOException {
        HttpServer server;
        try {
            server = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IOException("metrics-listen " + address.getHostString() + ":" + address.getPort()
                    + ": cannot listen: " + e.getMessage(), e);
        }
        ExecutorService executor = Executors.newSingleThreadExecutor(new DaemonThreads("pinfleet-metrics"));
        server.setExecutor(executor);
        server.createContext("/", exchange -> handle(exchange, scrape));
        server.start();
        return new MetricsServer(server, executor);
    }

    private static void handle(HttpExchange ex, Supplier<String> scrape) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            if (!ex.getRequestURI().getPath().equals(PATH)) {
                send(ex, 404, "text/plain; charset=utf-8", "not found: only " + PATH + " is served here\n", true);
                return;
            }
            if (!method.equals("GET") && !method.equals("HEAD")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                send(ex, 405, "text/plain; charset=utf-8", "method " + method + " not allowed on " + PATH + "\n", true);
                return;
            }
            String body;
            try {
                body = scrape.get();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "metrics: scrape failed", e);
                send(ex, 500, "text/plain; charset=utf-8", "scrape failed: " + e + "\n", true);
                return;
            }
            send(ex, 200, CONTENT_TYPE, body, method.equals("GET"));
        }
    }

    private static void send(HttpExchange ex, int status, String type, String body, boolean withBody)
            throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        if (!withBody) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(bytes.length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** The bound port. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** The bound address. */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** Stops listening at once; a scrape in progress is cut. */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}

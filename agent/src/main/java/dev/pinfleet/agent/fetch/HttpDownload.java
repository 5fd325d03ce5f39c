package dev.pinfleet.agent.fetch;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.proto.v1.Artifact;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;

/**
 * One GET of one artifact from one URL with the JDK's HTTP client (used for https mirrors), streamed into a {@link PartialFile} with its size bounded: never more
 * than {@code size + 1} body bytes are read. Continues a partial file with {@code Range: bytes=N-} and appends
 * only when the mirror answers 206 with the matching Content-Range; a 200 starts the file over. Redirects are
 * refused (the client never follows them). The digest is checked by the caller.
 */
final class HttpDownload implements Transfer.Transport {

    private final HttpClient client;
    private final FetchConfig cfg;
    private final ScheduledExecutorService timer;

    HttpDownload(HttpClient client, FetchConfig cfg, ScheduledExecutorService timer) {
        this.client = client;
        this.cfg = cfg;
        this.timer = timer;
    }

    @Override
    public boolean run(Artifact a, URI url, PartialFile part, Batch batch) throws FetchException, InterruptedException {
        long size = a.getSize();
        long offset = Transfer.resumeOffset(a, url, part);
        HttpRequest.Builder req = HttpRequest.newBuilder(url).GET()
                .timeout(cfg.requestTimeout())
                .header("User-Agent", Transfer.USER_AGENT)
                .header("Accept-Encoding", "identity");
        if (offset > 0) {
            req.header("Range", "bytes=" + offset + "-");
        }
        try (Watchdog dog = new Watchdog(timer, cfg.idleTimeout(), cfg.requestTimeout(), cfg.minSpeed())) {
            batch.watch(dog);
            try {
                HttpResponse<InputStream> resp = send(req.build(), dog, a, url, batch);
                InputStream body = resp.body();
                dog.onTrip(body::close);
                try {
                    long from = Transfer.acceptStatus(resp.statusCode(), resp.headers()::firstValue, offset, size, a, url,
                            part);
                    if (from == 0) {
                        Transfer.resetPart(part, a, url);
                    }
                    Transfer.copy(body, part, size, dog, a, url, batch, cfg);
                    return from > 0;
                } finally {
                    Transfer.closeQuietly(body);
                }
            } finally {
                batch.unwatch(dog);
            }
        }
    }

    private HttpResponse<InputStream> send(HttpRequest req, Watchdog dog, Artifact a, URI url, Batch batch)
            throws FetchException, InterruptedException {
        CompletableFuture<HttpResponse<InputStream>> pending =
                client.sendAsync(req, HttpResponse.BodyHandlers.ofInputStream());
        dog.onTrip(() -> pending.cancel(true));
        try {
            return pending.get();
        } catch (InterruptedException e) {
            pending.cancel(true);
            pending.thenAccept(r -> Transfer.closeQuietly(r.body()));
            throw e;
        } catch (CancellationException e) {
            throw Transfer.tripped(dog, a, url, 0, batch, cfg);
        } catch (ExecutionException e) {
            if (dog.tripped() != null) {
                throw Transfer.tripped(dog, a, url, 0, batch, cfg);
            }
            throw requestFailure(a, url, e.getCause());
        }
    }

    private FetchException requestFailure(Artifact a, URI url, Throwable t) {
        String f = a.getFilename();
        String u = url.toString();
        if (t instanceof HttpConnectTimeoutException) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: no connection within the connect timeout of "
                    + Transfer.millis(cfg.connectTimeout().toMillis()), t);
        }
        if (t instanceof HttpTimeoutException) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: no response within the request timeout of "
                    + Transfer.millis(cfg.requestTimeout().toMillis()), t);
        }
        if (t instanceof ConnectException) {
            return new FetchException(Kind.CONNECTION, f, u, "cannot connect to " + url.getHost() + ":"
                    + (url.getPort() > 0 ? url.getPort() : url.getScheme().equals("https") ? 443 : 80) + ": "
                    + Transfer.describe(t), t);
        }
        return new FetchException(Kind.CONNECTION, f, u, "request failed: " + Transfer.describe(t), t);
    }
}

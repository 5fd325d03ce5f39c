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
import java.util.OptionalLong;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One GET of one artifact from one URL, streamed into a {@link PartialFile} with its size bounded: never more
 * than {@code size + 1} body bytes are read. Continues a partial file with {@code Range: bytes=N-} and appends
 * only when the mirror answers 206 with the matching Content-Range; a 200 starts the file over. Redirects are
 * refused (the client never follows them). The digest is checked by the caller.
 */
final class HttpDownload {
    static final String USER_AGENT = "pinfleet-agent";
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final int BUFFER = 1 << 16;

    private final HttpClient client;
    private final FetchConfig cfg;
    private final ScheduledExecutorService timer;

    HttpDownload(HttpClient client, FetchConfig cfg, ScheduledExecutorService timer) {
        this.client = client;
        this.cfg = cfg;
        this.timer = timer;
    }

    /**
     * Downloads the rest of {@code a} into {@code part}: all of it, or from {@code part.bytes()} on when a previous
     * attempt was cut. On return the file holds exactly {@code a.getSize()} bytes.
     *
     * @return true when the bytes continued the partial file (206), false when they started from byte 0
     */
    boolean run(Artifact a, URI url, PartialFile part, Batch batch) throws FetchException, InterruptedException {
        long size = a.getSize();
        long offset = part.bytes() > 0 && part.bytes() < size ? part.bytes() : 0;
        try {
            if (offset == 0) {
                part.reset();
            }
        } catch (IOException e) {
            throw localFailure(a, url, e);
        }
        HttpRequest.Builder req = HttpRequest.newBuilder(url).GET()
                .timeout(cfg.requestTimeout())
                .header("User-Agent", USER_AGENT)
                .header("Accept-Encoding", "identity");
        if (offset > 0) {
            req.header("Range", "bytes=" + offset + "-");
        }
        try (Watchdog dog = new Watchdog(timer, cfg.idleTimeout(), cfg.requestTimeout())) {
            batch.watch(dog);
            try {
                HttpResponse<InputStream> resp = send(req.build(), dog, a, url, batch);
                InputStream body = resp.body();
                dog.onTrip(body::close);
                try {
                    long from = acceptStatus(resp, offset, size, a, url, part);
                    if (from == 0) {
                        resetPart(part, a, url);
                    }
                    copy(body, part, size, dog, a, url, batch);
                    return from > 0;
                } finally {
                    closeQuietly(body);
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
            pending.thenAccept(r -> closeQuietly(r.body()));
            throw e;
        } catch (CancellationException e) {
            throw tripped(dog, a, url, 0, batch);
        } catch (ExecutionException e) {
            if (dog.tripped() != null) {
                throw tripped(dog, a, url, 0, batch);
            }
            throw requestFailure(a, url, e.getCause());
        }
    }

    /** Checks status and headers; returns the offset the body starts at (0 for a whole file). */
    private long acceptStatus(HttpResponse<InputStream> resp, long offset, long size, Artifact a, URI url,
                              PartialFile part) throws FetchException {
        int st = resp.statusCode();
        String f = a.getFilename();
        String u = url.toString();
        long from;
        if (st == 200) {
            from = 0;
        } else if (st == 206) {
            if (offset == 0) {
                throw FetchException.status(Kind.HTTP_STATUS, st, f, u,
                        "HTTP 206 Partial Content to a request for the whole file");
            }
            String range = resp.headers().firstValue("Content-Range").orElse("");
            Matcher m = CONTENT_RANGE.matcher(range);
            if (!m.matches() || Long.parseLong(m.group(1)) != offset || Long.parseLong(m.group(2)) != size - 1
                    || !(m.group(3).equals("*") || Long.parseLong(m.group(3)) == size)) {
                resetPart(part, a, url);
                throw FetchException.of(Kind.HTTP_STATUS, st, true, f, u, "HTTP 206 with Content-Range '" + range
                        + "' where bytes " + offset + "-" + (size - 1) + "/" + size + " were asked; starting over");
            }
            from = offset;
        } else if (st >= 300 && st < 400) {
            String to = resp.headers().firstValue("Location").orElse("(no Location)");
            throw FetchException.status(Kind.REDIRECT, st, f, u, "HTTP " + st + " redirect to " + to
                    + " refused: redirects are never followed");
        } else if (st == 404 || st == 410) {
            throw FetchException.status(Kind.NOT_FOUND, st, f, u, "HTTP " + st + ": not found on this mirror");
        } else {
            throw FetchException.status(Kind.HTTP_STATUS, st, f, u, "HTTP " + st);
        }
        OptionalLong announced = resp.headers().firstValueAsLong("Content-Length");
        if (announced.isPresent() && announced.getAsLong() != size - from) {
            throw FetchException.status(Kind.SIZE, st, f, u, "mirror announced " + announced.getAsLong()
                    + " bytes (Content-Length) where " + (size - from) + " of the expected " + size
                    + " bytes were due");
        }
        return from;
    }

    private void copy(InputStream body, PartialFile part, long size, Watchdog dog, Artifact a, URI url, Batch batch)
            throws FetchException {
        byte[] buf = new byte[BUFFER];
        long limit = size + 1;
        while (true) {
            int want = (int) Math.min(buf.length, limit - part.bytes());
            int n;
            try {
                n = body.read(buf, 0, want);
            } catch (IOException e) {
                if (dog.tripped() != null) {
                    throw tripped(dog, a, url, part.bytes(), batch);
                }
                throw new FetchException(Kind.CONNECTION, a.getFilename(), url.toString(), "connection lost after "
                        + part.bytes() + " of " + size + " bytes: " + describe(e), e);
            }
            if (n < 0) {
                break;
            }
            dog.progress();
            try {
                part.append(buf, n);
            } catch (IOException e) {
                throw localFailure(a, url, e);
            }
            if (part.bytes() > size) {
                throw new FetchException(Kind.SIZE, a.getFilename(), url.toString(), "mirror sent more than the"
                        + " expected " + size + " bytes; cut after " + part.bytes(), null);
            }
        }
        if (dog.tripped() != null) {
            throw tripped(dog, a, url, part.bytes(), batch);
        }
        if (part.bytes() < size) {
            throw new FetchException(Kind.SIZE, a.getFilename(), url.toString(), "body ended after "
                    + part.bytes() + " bytes where " + size + " were expected", null);
        }
    }

    private FetchException tripped(Watchdog dog, Artifact a, URI url, long got, Batch batch) {
        String f = a.getFilename();
        String u = url.toString();
        String progress = " (" + got + " of " + a.getSize() + " bytes received)";
        Watchdog.Trip why = dog.tripped();
        if (why == Watchdog.Trip.IDLE) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: no byte from the mirror for "
                    + millis(cfg.idleTimeout().toMillis()) + progress, null);
        }
        if (why == Watchdog.Trip.DEADLINE) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: response not complete within the request"
                    + " timeout of " + millis(cfg.requestTimeout().toMillis()) + progress, null);
        }
        String reason = batch.cancelReason();
        return new FetchException(Kind.CANCELLED, f, u, "cancelled: " + (reason == null ? "stopped" : reason), null);
    }

    private FetchException requestFailure(Artifact a, URI url, Throwable t) {
        String f = a.getFilename();
        String u = url.toString();
        if (t instanceof HttpConnectTimeoutException) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: no connection within the connect timeout of "
                    + millis(cfg.connectTimeout().toMillis()), t);
        }
        if (t instanceof HttpTimeoutException) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: no response within the request timeout of "
                    + millis(cfg.requestTimeout().toMillis()), t);
        }
        if (t instanceof ConnectException) {
            return new FetchException(Kind.CONNECTION, f, u, "cannot connect to " + url.getHost() + ":"
                    + (url.getPort() > 0 ? url.getPort() : url.getScheme().equals("https") ? 443 : 80) + ": "
                    + describe(t), t);
        }
        return new FetchException(Kind.CONNECTION, f, u, "request failed: " + describe(t), t);
    }

    private void resetPart(PartialFile part, Artifact a, URI url) throws FetchException {
        try {
            part.reset();
        } catch (IOException e) {
            throw localFailure(a, url, e);
        }
    }

    static FetchException localFailure(Artifact a, URI url, IOException e) {
        return new FetchException(Kind.IO, a.getFilename(), url.toString(),
                "local file system failure writing the download: " + describe(e), e);
    }

    /** "Type: message", followed by the root cause when it says more (the JDK client wraps the real reason). */
    static String describe(Throwable t) {
        String text = oneLine(t);
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String rootMsg = root.getMessage();
        if (root != t && rootMsg != null && !rootMsg.isBlank() && !text.contains(rootMsg)) {
            text += " (" + oneLine(root) + ")";
        }
        return text;
    }

    private static String oneLine(Throwable t) {
        String msg = t.getMessage();
        String type = t.getClass().getSimpleName();
        return msg == null || msg.isBlank() ? type : type + ": " + msg;
    }

    static String millis(long ms) {
        return ms % 1000 == 0 ? (ms / 1000) + " s" : ms + " ms";
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // the connection is dropped either way
        }
    }
}

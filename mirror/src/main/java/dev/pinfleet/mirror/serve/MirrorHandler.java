package dev.pinfleet.mirror.serve;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.IndexedFile;
import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.SimplePages;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Answers one HTTP request at a time per connection, read-only: static files under {@code packages/} and
 * {@code simple/}, the simple API (static PEP 503 HTML, or PEP 691 JSON built from {@link MirrorIndex}),
 * and {@code /metrics}. One instance per connection. Requests are handed to an executor apart from the
 * I/O event loop, because opening files and building JSON pages block briefly; the executor is one thread
 * pinned to the connection, so pipelined requests are answered in order. The file bytes themselves go out
 * zero-copy on the event loop.
 */
final class MirrorHandler extends ChannelInboundHandlerAdapter {
    /** The access log: one INFO line per request. */
    static final Logger ACCESS = Logger.getLogger("dev.pinfleet.mirror.access");
    private static final Logger LOG = Logger.getLogger(MirrorHandler.class.getName());

    private static final String PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private static final String TEXT_TYPE = "text/plain; charset=utf-8";
    private static final String HTML_TEXT_TYPE = "text/html; charset=utf-8";

    private final Path dir;
    private final MirrorIndex index;
    private final MirrorMetrics metrics;
    private final EventExecutor worker;

    /** @param worker the single-threaded executor this connection's requests are answered on */
    MirrorHandler(Path dir, MirrorIndex index, MirrorMetrics metrics, EventExecutor worker) {
        this.dir = dir;
        this.index = index;
        this.metrics = metrics;
        this.worker = worker;
    }

    /** One request and what is needed to answer, log and count it. */
    private final class Exchange {
        final ChannelHandlerContext ctx;
        final HttpRequest req;
        final long startNanos = System.nanoTime();
        final boolean head;
        boolean keepAlive;

        Exchange(ChannelHandlerContext ctx, HttpRequest req) {
            this.ctx = ctx;
            this.req = req;
            this.head = HttpMethod.HEAD.equals(req.method());
            this.keepAlive = HttpUtil.isKeepAlive(req);
        }

        void finish(ChannelFuture last, int status, long bodyBytes) {
            last.addListener((ChannelFutureListener) f -> {
                long sent = f.isSuccess() ? bodyBytes : 0;
                metrics.request(status, sent);
                if (ACCESS.isLoggable(Level.INFO)) {
                    long ms = (System.nanoTime() - startNanos) / 1_000_000;
                    ACCESS.info(req.method().name() + " " + printableUri(req.uri()) + " " + status + " " + sent
                            + " " + ms + "ms " + ctx.channel().remoteAddress() + (f.isSuccess() ? "" : " aborted"));
                }
            });
            if (!keepAlive) {
                last.addListener(ChannelFutureListener.CLOSE);
            }
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof HttpRequest req) {
                Exchange x = new Exchange(ctx, req);
                worker.execute(() -> handle(x));
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.FINE, cause, () -> "closing " + ctx.channel().remoteAddress() + " after an error");
        ctx.close();
    }

    private void handle(Exchange x) {
        HttpRequest req = x.req;
        if (req.decoderResult().isFailure()) {
            if (!x.ctx.channel().isActive()) {
                return; // the decoder flushes a half-read request when the client (or a timeout) closed
            }
            Throwable cause = req.decoderResult().cause();
            HttpResponseStatus status = cause instanceof TooLongHttpLineException ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                    : cause instanceof TooLongHttpHeaderException ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                    : HttpResponseStatus.BAD_REQUEST;
            x.keepAlive = false;
            error(x, status, "malformed request");
            return;
        }
        if (!HttpMethod.GET.equals(req.method()) && !x.head) {
            x.keepAlive = false;
            String why = UploadHandler.isUpload(req)
                    ? "uploads are not enabled on this mirror (start 'pinfleet mirror serve' with --tokens FILE)"
                    : "this path is read-only (GET, HEAD)";
            sendBytes(x, HttpResponseStatus.METHOD_NOT_ALLOWED, TEXT_TYPE,
                    bytes("405 Method Not Allowed: " + why + "\n"),
                    h -> h.set(HttpHeaderNames.ALLOW, "GET, HEAD"));
            return;
        }
        RequestTarget target;
        try {
            target = RequestTarget.parse(req.uri());
        } catch (RequestTarget.BadTargetException e) {
            LOG.fine(() -> "refused " + printableUri(req.uri()) + " from " + x.ctx.channel().remoteAddress() + ": "
                    + e.getMessage());
            error(x, HttpResponseStatus.BAD_REQUEST, e.getMessage());
            return;
        }
        try {
            route(x, target);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, e, () -> "failed to answer " + printableUri(req.uri()));
            x.keepAlive = false;
            error(x, HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal error");
        }
    }

    private void route(Exchange x, RequestTarget t) throws IOException {
        List<String> s = t.segments();
        if (s.isEmpty() || s.stream().anyMatch(seg -> seg.startsWith("."))) {
            notFound(x);
            return;
        }
        switch (s.get(0)) {
            case "metrics" -> {
                if (s.size() == 1 && !t.trailingSlash()) {
                    metrics(x);
                } else {
                    notFound(x);
                }
            }
            case MirrorIndex.SIMPLE -> simple(x, t);
            case MirrorIndex.PACKAGES -> {
                if (t.trailingSlash() || s.size() < 2) {
                    notFound(x); // never list directories
                } else {
                    staticFile(x, s, null, false);
                }
            }
            default -> notFound(x);
        }
    }

    private void simple(Exchange x, RequestTarget t) throws IOException {
        List<String> s = t.segments();
        if (s.size() == 1) {
            if (!t.trailingSlash()) {
                redirect(x, "/simple/");
            } else {
                simplePage(x, null);
            }
            return;
        }
        String name = s.get(1);
        if (s.size() == 2 && name.equals(MirrorIndex.INDEX_HTML) && !t.trailingSlash()) {
            staticFile(x, s, HTML_TEXT_TYPE, false);
            return;
        }
        if (s.size() == 3 && s.get(2).equals(MirrorIndex.INDEX_HTML) && !t.trailingSlash()) {
            staticFile(x, s, HTML_TEXT_TYPE, false);
            return;
        }
        String normalized = Names.normalizeProject(name);
        if (s.size() != 2 || !MirrorIndex.isNormalizedProject(normalized)) {
            notFound(x);
            return;
        }
        if (!normalized.equals(name) || !t.trailingSlash()) {
            redirect(x, "/simple/" + normalized + "/");
            return;
        }
        simplePage(x, normalized);
    }

    /** The root ({@code project == null}) or a project page, in the representation the client prefers. */
    private void simplePage(Exchange x, String project) throws IOException {
        String type = negotiate(x.req.headers().get(HttpHeaderNames.ACCEPT));
        if (type.equals(SimplePages.JSON_TYPE)) {
            String body;
            if (project == null) {
                body = SimplePages.rootJson(index.projects().keySet());
            } else {
                List<IndexedFile> files = index.files(project);
                if (files.isEmpty()) {
                    notFound(x);
                    return;
                }
                body = SimplePages.projectJson(project, files);
            }
            sendGenerated(x, type, bytes(body));
            return;
        }
        List<String> page = project == null ? List.of(MirrorIndex.SIMPLE, MirrorIndex.INDEX_HTML)
                : List.of(MirrorIndex.SIMPLE, project, MirrorIndex.INDEX_HTML);
        staticFile(x, page, type, true);
    }

    /**
     * The preferred simple-API media type per the Accept header (PEP 691): the JSON type, the versioned
     * HTML type, or plain text/html. The highest q wins; of equal q, the type listed first; types this mirror does not
     * serve and q=0 are skipped; text/html when nothing acceptable is listed (or no header).
     */
    static String negotiate(String accept) {
        if (accept == null || accept.isBlank()) {
            return HTML_TEXT_TYPE;
        }
        String best = HTML_TEXT_TYPE;
        double bestQ = 0;
        for (String part : accept.split(",")) {
            String[] params = part.split(";");
            String media = params[0].strip().toLowerCase(Locale.ROOT);
            double q = 1;
            for (int i = 1; i < params.length; i++) {
                String p = params[i].strip();
                if (p.regionMatches(true, 0, "q=", 0, 2)) {
                    try {
                        q = Double.parseDouble(p.substring(2).strip());
                    } catch (NumberFormatException e) {
                        q = 0;
                    }
                }
            }
            String type = switch (media) {
                case SimplePages.JSON_TYPE, "application/vnd.pypi.simple.latest+json" -> SimplePages.JSON_TYPE;
                case SimplePages.HTML_TYPE, "application/vnd.pypi.simple.latest+html" -> SimplePages.HTML_TYPE;
                case "text/html", "text/*", "*/*" -> HTML_TEXT_TYPE;
                default -> null;
            };
            if (type != null && q > bestQ) {
                best = type;
                bestQ = q;
            }
        }
        return best;
    }

    /**
     * Serves a regular file below {@code DIR/<segments[0]>} ({@link #regularFile}); anything else is a 404.
     */
    private void staticFile(Exchange x, List<String> segments, String contentType, boolean varyAccept)
            throws IOException {
        Path file = regularFile(segments);
        if (file == null) {
            notFound(x);
            return;
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            LOG.log(Level.FINE, e, () -> "cannot open " + file);
            notFound(x);
            return;
        }
        boolean handedOver = false;
        try {
            long size = ch.size();
            Instant mtime = Files.getLastModifiedTime(file).toInstant();
            String etag = "\"" + Long.toHexString(size) + "-" + Long.toHexString(mtime.toEpochMilli()) + "\"";
            String lastModified = Conditional.HTTP_DATE.format(mtime);
            String type = contentType != null ? contentType : contentType(file.getFileName().toString());
            Consumer<HttpHeaders> validators = h -> {
                h.set(HttpHeaderNames.ETAG, etag);
                h.set(HttpHeaderNames.LAST_MODIFIED, lastModified);
                if (varyAccept) {
                    h.set(HttpHeaderNames.VARY, "Accept");
                }
            };
            if (Conditional.notModified(x.req, etag, mtime)) {
                sendBytes(x, HttpResponseStatus.NOT_MODIFIED, null, new byte[0], validators);
                return;
            }
            ByteRange.Result range = HttpMethod.GET.equals(x.req.method()) && Conditional.rangeApplies(x.req, etag, lastModified)
                    ? ByteRange.resolve(x.req.headers().get(HttpHeaderNames.RANGE), size) : new ByteRange.Full();
            if (range instanceof ByteRange.Unsatisfiable) {
                sendBytes(x, HttpResponseStatus.REQUESTED_RANGE_NOT_SATISFIABLE, TEXT_TYPE,
                        bytes("416 Range Not Satisfiable: the file has " + size + " bytes\n"),
                        h -> h.set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size));
                return;
            }
            long start = 0;
            long length = size;
            HttpResponseStatus status = HttpResponseStatus.OK;
            HttpResponse resp = new DefaultHttpResponse(HttpVersion.HTTP_1_1, status);
            if (range instanceof ByteRange.Partial p) {
                start = p.range().start();
                length = p.range().length();
                status = HttpResponseStatus.PARTIAL_CONTENT;
                resp.setStatus(status);
                resp.headers().set(HttpHeaderNames.CONTENT_RANGE,
                        "bytes " + start + "-" + p.range().end() + "/" + size);
            }
            HttpHeaders h = resp.headers();
            common(x, h);
            h.set(HttpHeaderNames.CONTENT_TYPE, type);
            h.set(HttpHeaderNames.CONTENT_LENGTH, length);
            h.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
            validators.accept(h);
            x.ctx.write(resp);
            long body = 0;
            if (!x.head && length > 0) {
                x.ctx.write(new DefaultFileRegion(ch, start, length));
                handedOver = true;
                body = length;
            }
            x.finish(x.ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT), status.code(), body);
        } finally {
            if (!handedOver) {
                ch.close();
            }
        }
    }

    /**
     * {@code DIR/segments...} when it is a regular file and no component below {@code DIR} is a symbolic link,
     * else null: the rule of the nginx configuration {@link NginxConfig} prints ({@code disable_symlinks on
     * from=$document_root}), so both servers answer the same. A link is refused even when it points to another
     * file of the mirror: the publisher never creates one, and what it points to is not what was audited.
     */
    private Path regularFile(List<String> segments) {
        Path p = dir;
        BasicFileAttributes a = null;
        try {
            for (String seg : segments) {
                p = p.resolve(seg);
                a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isSymbolicLink()) {
                    Path link = p;
                    LOG.fine(() -> "refused " + link + ": a symbolic link (only regular files are served)");
                    return null;
                }
            }
        } catch (IOException e) {
            return null; // missing or not readable: both look the same from outside
        }
        return a != null && a.isRegularFile() ? p : null;
    }

    private void metrics(Exchange x) {
        if (metrics.registry() instanceof PrometheusMeterRegistry prometheus) {
            sendBytes(x, HttpResponseStatus.OK, PROMETHEUS_TYPE, bytes(prometheus.scrape()),
                    h -> h.set(HttpHeaderNames.CACHE_CONTROL, "no-store"));
        } else {
            notFound(x);
        }
    }

    /** A generated page (JSON): strong ETag from its bytes, 304 on a matching If-None-Match. */
    private void sendGenerated(Exchange x, String type, byte[] body) {
        String etag = "\"" + Hashing.sha256Hex(body).substring(0, 32) + "\"";
        Consumer<HttpHeaders> headers = h -> {
            h.set(HttpHeaderNames.ETAG, etag);
            h.set(HttpHeaderNames.VARY, "Accept");
        };
        String inm = x.req.headers().get(HttpHeaderNames.IF_NONE_MATCH);
        if (inm != null && Conditional.etagListMatches(inm, etag)) {
            sendBytes(x, HttpResponseStatus.NOT_MODIFIED, null, new byte[0], headers);
        } else {
            sendBytes(x, HttpResponseStatus.OK, type, body, headers);
        }
    }

    private void redirect(Exchange x, String location) {
        sendBytes(x, HttpResponseStatus.MOVED_PERMANENTLY, TEXT_TYPE, bytes("301 Moved Permanently: " + location + "\n"),
                h -> h.set(HttpHeaderNames.LOCATION, location));
    }

    private void notFound(Exchange x) {
        error(x, HttpResponseStatus.NOT_FOUND, "not found");
    }

    private void error(Exchange x, HttpResponseStatus status, String why) {
        sendBytes(x, status, TEXT_TYPE, bytes(status.code() + " " + status.reasonPhrase() + ": " + why + "\n"), h -> { });
    }

    private void sendBytes(Exchange x, HttpResponseStatus status, String type, byte[] body,
            Consumer<HttpHeaders> extra) {
        boolean noBody = status.equals(HttpResponseStatus.NOT_MODIFIED);
        ByteBuf content = x.head || noBody ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body);
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
        HttpHeaders h = resp.headers();
        common(x, h);
        if (!noBody) {
            h.set(HttpHeaderNames.CONTENT_TYPE, type);
            h.set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        }
        extra.accept(h);
        x.finish(x.ctx.writeAndFlush(resp), status.code(), content.readableBytes());
    }

    private static void common(Exchange x, HttpHeaders h) {
        h.set(HttpHeaderNames.DATE, Conditional.HTTP_DATE.format(Instant.now()));
        h.set("X-Content-Type-Options", "nosniff");
        if (x.keepAlive) {
            if (x.req.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                h.set(HttpHeaderNames.CONNECTION, "keep-alive");
            }
        } else {
            h.set(HttpHeaderNames.CONNECTION, "close");
        }
    }

    static String contentType(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        if (n.endsWith(".html")) {
            return HTML_TEXT_TYPE;
        }
        if (n.endsWith(".json")) {
            return "application/json";
        }
        if (n.endsWith(".metadata") || n.endsWith(".txt")) {
            return TEXT_TYPE;
        }
        if (n.endsWith(".gz") || n.endsWith(".tgz")) {
            return "application/gzip";
        }
        if (n.endsWith(".zip")) {
            return "application/zip";
        }
        return "application/octet-stream";
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String printableUri(String uri) {
        String s = uri.length() > 512 ? uri.substring(0, 512) + "..." : uri;
        return Names.printable(s);
    }
}

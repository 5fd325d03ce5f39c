package dev.pinfleet.mirror.serve;

import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.publish.PublishException;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.proto.v1.UploadResult;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The upload endpoint, {@code PUT /upload/<wheel file name>}, placed before {@link MirrorHandler}; every other
 * request, and its body, passes through untouched.
 *
 * <p>An upload is checked in the order a client can fix it: the target names a wheel (404/400), HTTP Basic
 * credentials {@code USER:TOKEN} match the tokens file (401), the body has a length and is within the limit
 * (411/413), the user has signed off the current upload policy (403). Only then is
 * {@code Expect: 100-continue} answered and the body streamed to a temporary file under
 * {@code DIR/.incoming/}, which is published exactly as a local publish would be ({@code Publisher}): 201 when
 * placed, 200 when the same bytes were already there, 400 for an invalid wheel, 409 for other bytes under a
 * published name. The temporary file is always removed. A refused request whose body is already on its way is
 * read to its end and discarded before the answer, so the client sees the answer rather than a reset; a body
 * over the limit is cut off and the connection closed.
 *
 * <p>Disk work runs on the connection's worker thread, in arrival order; reading from the socket pauses
 * while more than {@value #PAUSE_BYTES} bytes wait for the disk.
 */
final class UploadHandler extends ChannelInboundHandlerAdapter {
    /** First path segment of the endpoint. */
    static final String PREFIX = "upload";
    /** Directory of bodies being received, inside the mirror directory (a dot-directory: never served). */
    static final String INCOMING = ".incoming";

    private static final Logger LOG = Logger.getLogger(UploadHandler.class.getName());
    private static final long PAUSE_BYTES = 8L << 20;
    private static final long RESUME_BYTES = 2L << 20;
    private static final String TEXT_TYPE = "text/plain; charset=utf-8";

    private final Path dir;
    private final UploadSettings settings;
    private final MirrorMetrics metrics;
    private final EventExecutor worker;
    private final AtomicLong pending = new AtomicLong();

    /** Event-loop state: is the current request's body ours, or passed through? */
    private boolean passing = true;

    /** Worker state: the upload being received, or null. */
    private Upload current;

    UploadHandler(Path dir, UploadSettings settings, MirrorMetrics metrics, EventExecutor worker) {
        this.dir = dir;
        this.settings = settings;
        this.metrics = metrics;
        this.worker = worker;
    }

    /** Creates (or empties) {@code DIR/.incoming}: a crashed server may have left partial bodies there. */
    static void prepareIncoming(Path dir) throws IOException {
        Path incoming = dir.resolve(INCOMING);
        if (Files.isDirectory(incoming)) {
            try (Stream<Path> s = Files.walk(incoming)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(incoming)).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        Files.createDirectories(incoming);
    }

    static boolean isUpload(HttpRequest req) {
        String uri = req.uri();
        return (HttpMethod.PUT.equals(req.method()) || HttpMethod.POST.equals(req.method()))
                && req.decoderResult().isSuccess()
                && (uri.equals("/" + PREFIX) || uri.startsWith("/" + PREFIX + "/") || uri.startsWith("/" + PREFIX + "?"));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest req) {
            passing = !isUpload(req);
            if (passing) {
                ctx.fireChannelRead(msg);
                return;
            }
            worker.execute(() -> head(ctx, req));
        }
        if (msg instanceof HttpContent content) {
            if (passing) {
                if (!(msg instanceof HttpRequest)) {
                    ctx.fireChannelRead(msg);
                }
                return;
            }
            long size = content.content().readableBytes();
            if (pending.addAndGet(size) > PAUSE_BYTES) {
                ctx.channel().config().setAutoRead(false);
            }
            worker.execute(() -> {
                try {
                    body(ctx, content);
                } finally {
                    content.release();
                    if (pending.addAndGet(-size) < RESUME_BYTES && !ctx.channel().config().isAutoRead()) {
                        ctx.channel().config().setAutoRead(true);
                    }
                }
            });
            if (msg instanceof LastHttpContent) {
                passing = true;
            }
            return;
        }
        if (!(msg instanceof HttpRequest)) {
            ctx.fireChannelRead(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        worker.execute(() -> {
            if (current != null) {
                current.discard();
                current = null;
            }
        });
        super.channelInactive(ctx);
    }

    /** One upload request, from its head to its answer. Used on the worker thread only. */
    private final class Upload {
        final ChannelHandlerContext ctx;
        final HttpRequest req;
        final long startNanos = System.nanoTime();
        final long declared;
        String user = "-";
        String fileName;
        Path tmpDir;
        Path file;
        FileChannel channel;
        long received;
        /** When set, the answer given once the body has been read (the request was refused). */
        HttpResponseStatus refusal;
        String refusalMessage;
        boolean answered;

        Upload(ChannelHandlerContext ctx, HttpRequest req) {
            this.ctx = ctx;
            this.req = req;
            this.declared = HttpUtil.getContentLength(req, -1L);
        }

        void discard() {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // the file is deleted next
                }
                channel = null;
            }
            if (tmpDir != null) {
                try {
                    if (file != null) {
                        Files.deleteIfExists(file);
                    }
                    Files.deleteIfExists(tmpDir);
                } catch (IOException e) {
                    LOG.log(Level.WARNING, e, () -> "cannot remove " + tmpDir + " (removed at the next start)");
                }
                tmpDir = null;
            }
        }
    }

    private void head(ChannelHandlerContext ctx, HttpRequest req) {
        if (current != null) {
            current.discard();
        }
        Upload u = new Upload(ctx, req);
        current = u;
        boolean hasBody = u.declared > 0 || HttpUtil.isTransferEncodingChunked(req);
        RequestTarget t;
        try {
            t = RequestTarget.parse(req.uri());
        } catch (RequestTarget.BadTargetException e) {
            refuse(u, HttpResponseStatus.BAD_REQUEST, e.getMessage(), hasBody);
            return;
        }
        if (t.segments().size() != 2 || t.trailingSlash()) {
            refuse(u, HttpResponseStatus.NOT_FOUND, "upload a wheel with PUT /" + PREFIX + "/<wheel file name>", hasBody);
            return;
        }
        u.fileName = t.segments().get(1);
        String user = authenticate(req.headers().get(HttpHeaderNames.AUTHORIZATION));
        if (user == null) {
            refuse(u, HttpResponseStatus.UNAUTHORIZED, "uploads need HTTP Basic credentials USER:TOKEN matching "
                    + "the mirror's tokens file (missing, malformed or wrong)", hasBody);
            return;
        }
        u.user = user;
        if (u.declared < 0 && !HttpUtil.isTransferEncodingChunked(req)) {
            refuse(u, HttpResponseStatus.LENGTH_REQUIRED, "send the wheel with a Content-Length (or chunked)", false);
            return;
        }
        if (u.declared > settings.maxBytes()) {
            refuse(u, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, u.fileName + " has " + u.declared
                    + " bytes; this mirror accepts uploads of at most " + settings.maxBytes() + " bytes", hasBody);
            return;
        }
        try {
            Publisher.project(u.fileName);
            Publisher.requireSignOff(dir, user);
        } catch (PublishException e) {
            refuse(u, status(e.reason()), e.getMessage(), hasBody);
            return;
        } catch (IOException e) {
            LOG.log(Level.WARNING, e, () -> "cannot read the upload policy of " + dir);
            refuse(u, HttpResponseStatus.INTERNAL_SERVER_ERROR, "the mirror cannot read its upload policy", hasBody);
            return;
        }
        try {
            u.tmpDir = Files.createTempDirectory(dir.resolve(INCOMING), "up");
            u.file = u.tmpDir.resolve(u.fileName);
            u.channel = FileChannel.open(u.file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (IOException e) {
            u.discard();
            LOG.log(Level.WARNING, e, () -> "cannot create a temporary file under " + dir.resolve(INCOMING));
            refuse(u, HttpResponseStatus.INTERNAL_SERVER_ERROR, "the mirror cannot store the upload", hasBody);
            return;
        }
        if (HttpUtil.is100ContinueExpected(req)) {
            ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
                    Unpooled.EMPTY_BUFFER));
        }
    }

    private void body(ChannelHandlerContext ctx, HttpContent content) {
        Upload u = current;
        if (u == null || u.answered) {
            return;
        }
        ByteBuf buf = content.content();
        int n = buf.readableBytes();
        u.received += n;
        if (u.refusal == null && u.received > settings.maxBytes()) {
            u.discard();
            answer(u, HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, TEXT_TYPE, text(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                    "the body exceeds this mirror's upload limit of " + settings.maxBytes() + " bytes"), false);
            return;
        }
        if (u.refusal == null && u.channel != null && n > 0) {
            try {
                while (buf.isReadable()) {
                    buf.readBytes(u.channel, buf.readableBytes());
                }
            } catch (IOException e) {
                LOG.log(Level.WARNING, e, () -> "cannot write " + u.file);
                u.discard();
                u.refusal = HttpResponseStatus.INTERNAL_SERVER_ERROR;
                u.refusalMessage = "the mirror cannot store the upload";
            }
        }
        if (!(content instanceof LastHttpContent)) {
            return;
        }
        if (u.refusal != null) {
            answer(u, u.refusal, TEXT_TYPE, text(u.refusal, u.refusalMessage), true);
            return;
        }
        if (u.declared >= 0 && u.received != u.declared) {
            u.discard();
            answer(u, HttpResponseStatus.BAD_REQUEST, TEXT_TYPE, text(HttpResponseStatus.BAD_REQUEST, "received "
                    + u.received + " bytes, Content-Length said " + u.declared), false);
            return;
        }
        publish(u);
    }

    /** Publishes {@code u}'s file, removes its temporary copy, and only then answers. */
    private void publish(Upload u) {
        HttpResponseStatus status;
        String type = TEXT_TYPE;
        byte[] body;
        boolean keepAliveAllowed = true;
        try {
            u.channel.force(true);
            u.channel.close();
            u.channel = null;
            PublishResult r = settings.publisher().publishSignedOff(dir, List.of(u.file), u.user).get(0);
            boolean placed = r.outcome() == PublishResult.Outcome.PUBLISHED;
            status = placed ? HttpResponseStatus.CREATED : HttpResponseStatus.OK;
            type = "application/json";
            body = (ProtoJson.line(UploadResult.newBuilder().setOutcome(placed ? "published" : "unchanged")
                    .setFile(r.file()).setSha256(r.sha256()).setSize(r.size()).setUser(u.user).build()) + "\n")
                    .getBytes(StandardCharsets.UTF_8);
        } catch (PublishException e) {
            status = status(e.reason());
            body = text(status, e.getMessage());
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, e, () -> "publishing " + u.fileName + " uploaded by " + u.user + " failed");
            status = HttpResponseStatus.INTERNAL_SERVER_ERROR;
            body = text(status, "publishing failed on the mirror; nothing was placed (see the mirror's log)");
            keepAliveAllowed = false;
        } finally {
            // Before the answer: a client that has read it finds nothing of its upload left under .incoming/.
            u.discard();
        }
        answer(u, status, type, body, keepAliveAllowed);
    }

    /**
     * Refuses {@code u}. When a body is coming and the client did not ask to confirm first, the answer waits
     * until the body has been read (so the client reads it instead of a reset); otherwise it goes now and
     * the connection is closed after it.
     */
    private void refuse(Upload u, HttpResponseStatus status, String message, boolean bodyComing) {
        if (bodyComing && !HttpUtil.is100ContinueExpected(u.req)) {
            u.refusal = status;
            u.refusalMessage = message;
            return;
        }
        answer(u, status, TEXT_TYPE, text(status, message), !bodyComing);
    }

    private void answer(Upload u, HttpResponseStatus status, String type, byte[] body, boolean keepAliveAllowed) {
        u.answered = true;
        boolean keepAlive = keepAliveAllowed && HttpUtil.isKeepAlive(u.req);
        String outcome = status.code() == 201 ? "published" : status.code() == 200 ? "unchanged" : "refused";
        metrics.upload(outcome);
        if (status.code() >= 400) {
            LOG.info(() -> "refused upload of " + Names.printable(String.valueOf(u.fileName)) + " by " + u.user + " from "
                    + u.ctx.channel().remoteAddress() + ": " + status.code() + " "
                    + Names.printable(new String(body, StandardCharsets.UTF_8).strip()));
        }
        FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        HttpHeaders h = resp.headers();
        h.set(HttpHeaderNames.DATE, Conditional.HTTP_DATE.format(Instant.now()));
        h.set("X-Content-Type-Options", "nosniff");
        h.set(HttpHeaderNames.CONTENT_TYPE, type);
        h.set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        h.set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        if (status.equals(HttpResponseStatus.UNAUTHORIZED)) {
            h.set(HttpHeaderNames.WWW_AUTHENTICATE, "Basic realm=\"pinfleet mirror uploads\", charset=\"UTF-8\"");
        }
        if (!keepAlive) {
            h.set(HttpHeaderNames.CONNECTION, "close");
        }
        long startNanos = u.startNanos;
        String user = u.user;
        String line = u.req.method().name() + " " + Names.printable(u.req.uri().length() > 512
                ? u.req.uri().substring(0, 512) + "..." : u.req.uri());
        var f = u.ctx.writeAndFlush(resp);
        f.addListener((ChannelFutureListener) done -> {
            metrics.request(status.code(), done.isSuccess() ? body.length : 0);
            if (MirrorHandler.ACCESS.isLoggable(Level.INFO)) {
                MirrorHandler.ACCESS.info(line + " " + status.code() + " " + (done.isSuccess() ? body.length : 0) + " "
                        + (System.nanoTime() - startNanos) / 1_000_000 + "ms " + u.ctx.channel().remoteAddress()
                        + " user=" + user + (done.isSuccess() ? "" : " aborted"));
            }
        });
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** The user whose Basic credentials are valid, or null. */
    private String authenticate(String header) {
        if (header == null || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(header.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        if (colon <= 0) {
            return null;
        }
        String user = decoded.substring(0, colon);
        return settings.tokens().authenticate(user, decoded.substring(colon + 1)) ? user : null;
    }

    static HttpResponseStatus status(PublishException.Reason reason) {
        return switch (reason) {
            case INVALID -> HttpResponseStatus.BAD_REQUEST;
            case CONFLICT -> HttpResponseStatus.CONFLICT;
            case NOT_SIGNED_OFF -> HttpResponseStatus.FORBIDDEN;
        };
    }

    private static byte[] text(HttpResponseStatus status, String message) {
        return (status.code() + " " + status.reasonPhrase() + ": " + message + "\n").getBytes(StandardCharsets.UTF_8);
    }
}

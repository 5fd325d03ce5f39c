package dev.pinfleet.mirror.serve;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Per-connection protection, placed after the HTTP codec: refuses connections beyond the limit, closes a
 * connection whose next request head has not fully arrived within the header timeout (slow-loris, and the
 * keep-alive idle limit), and closes it on the idle event of the {@code IdleStateHandler} before the codec
 * (no bytes moving either way, e.g. a stalled download). Tracks the open-connections gauge.
 */
final class ConnectionGuard extends ChannelDuplexHandler {
    private static final Logger LOG = Logger.getLogger(ConnectionGuard.class.getName());

    private final MirrorMetrics metrics;
    private final int maxConnections;
    private final long headerTimeoutNanos;
    private int inFlight;
    private ScheduledFuture<?> headerTimer;
    private boolean counted;

    ConnectionGuard(MirrorMetrics metrics, int maxConnections, long headerTimeoutNanos) {
        this.metrics = metrics;
        this.maxConnections = maxConnections;
        this.headerTimeoutNanos = headerTimeoutNanos;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        int open = metrics.connections().incrementAndGet();
        counted = true;
        if (open > maxConnections) {
            LOG.warning(() -> "refusing connection from " + ctx.channel().remoteAddress() + ": " + (open - 1)
                    + " connections open, limit " + maxConnections);
            ctx.close();
            return;
        }
        armHeaderTimer(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (counted) {
            metrics.connections().decrementAndGet();
            counted = false;
        }
        cancelHeaderTimer();
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest) {
            inFlight++;
            cancelHeaderTimer();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof LastHttpContent && !isInterim(msg)) {
            promise.addListener((ChannelFutureListener) f -> {
                if (ctx.executor().inEventLoop()) {
                    responseDone(ctx);
                } else {
                    ctx.executor().execute(() -> responseDone(ctx));
                }
            });
        }
        super.write(ctx, msg, promise);
    }

    /** A 1xx response (100 Continue) answers nothing yet: the request is still in flight. */
    private static boolean isInterim(Object msg) {
        return msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
    }

    private void responseDone(ChannelHandlerContext ctx) {
        if (inFlight > 0) {
            inFlight--;
        }
        if (inFlight == 0 && ctx.channel().isActive()) {
            armHeaderTimer(ctx);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            LOG.log(Level.FINE, () -> "closing idle connection " + ctx.channel().remoteAddress());
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    private void armHeaderTimer(ChannelHandlerContext ctx) {
        cancelHeaderTimer();
        headerTimer = ctx.executor().schedule(() -> {
            if (inFlight == 0) {
                LOG.log(Level.FINE, () -> "closing " + ctx.channel().remoteAddress()
                        + ": no complete request head within the header timeout");
                ctx.close();
            }
        }, headerTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    private void cancelHeaderTimer() {
        if (headerTimer != null) {
            headerTimer.cancel(false);
            headerTimer = null;
        }
    }
}

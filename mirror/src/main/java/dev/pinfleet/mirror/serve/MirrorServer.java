package dev.pinfleet.mirror.serve;

import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.policy.PolicyException;
import dev.pinfleet.mirror.policy.UploadPolicy;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultEventExecutorGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The mirror's HTTP server (Netty): serves a mirror directory read-only, as nginx would serve it, plus the
 * PEP 691 JSON form of the simple index and {@code /metrics}.
 *
 * <ul>
 *   <li>{@code GET}/{@code HEAD} (405 otherwise), plus {@code PUT /upload/<wheel>} when started with
 *       {@link UploadSettings} (see {@link UploadHandler}); Content-Length, Content-Type, ETag and
 *       Last-Modified, {@code If-None-Match}/{@code If-Modified-Since} (304), a single {@code Range}
 *       (206, 416) with {@code If-Range}; files sent zero-copy; keep-alive.</li>
 *   <li>{@code /packages/<project>/<file>}: the published files; directories are never listed.</li>
 *   <li>{@code /simple/} and {@code /simple/<project>/}: the static {@code index.html}, or PEP 691 JSON when
 *       the Accept header prefers {@code application/vnd.pypi.simple.v1+json}; a non-normalized project
 *       name, or a missing trailing slash, is redirected (301) to the normalized URL.</li>
 *   <li>{@code /metrics}: Prometheus text when the registry is a {@code PrometheusMeterRegistry}.</li>
 *   <li>No path escapes: see {@link RequestTarget}; only regular files below {@code DIR/packages} or
 *       {@code DIR/simple} are served, and none through a symbolic link (no component below {@code DIR} may be one,
 *       as nginx's {@code disable_symlinks on}). Dot-files are never served.</li>
 *   <li>Slow clients: a request head must arrive within the header timeout, and a connection with no
 *       traffic either way for the idle timeout is closed; request line and headers are bounded.</li>
 * </ul>
 * One access-log line per request goes to the {@code java.util.logging} logger
 * {@code dev.pinfleet.mirror.access} at INFO.
 */
public final class MirrorServer implements AutoCloseable {

    /**
     * Server settings.
     *
     * @param ioThreads             event-loop threads moving bytes (default 2)
     * @param handlerThreads        threads that resolve paths and build index pages (default 4)
     * @param idleTimeout           close a connection with no read or write progress for this long (default 30 s)
     * @param requestHeaderTimeout  close a connection whose next request head is not complete within this
     *                              long, counted from connect or from the end of the previous response
     *                              (default 30 s)
     * @param maxInitialLineLength  longest request line accepted, in bytes (default 4096; longer gets 414)
     * @param maxHeaderSize         largest request header block, in bytes (default 8192; larger gets 431)
     * @param maxConnections        connections open at once; further ones are closed at once (default 10000)
     */
    public record Options(int ioThreads, int handlerThreads, Duration idleTimeout, Duration requestHeaderTimeout,
            int maxInitialLineLength, int maxHeaderSize, int maxConnections) {

        public Options {
            if (ioThreads < 1 || handlerThreads < 1) {
                throw new IllegalArgumentException("ioThreads and handlerThreads must be at least 1");
            }
            if (idleTimeout.isNegative() || idleTimeout.isZero() || requestHeaderTimeout.isNegative()
                    || requestHeaderTimeout.isZero()) {
                throw new IllegalArgumentException("idleTimeout and requestHeaderTimeout must be positive");
            }
            if (maxInitialLineLength < 256 || maxHeaderSize < 1024 || maxConnections < 1) {
                throw new IllegalArgumentException("maxInitialLineLength must be >= 256, maxHeaderSize >= 1024, "
                        + "maxConnections >= 1");
            }
        }

        /** The defaults listed on the record. */
        public static Options defaults() {
            return new Options(2, 4, Duration.ofSeconds(30), Duration.ofSeconds(30), 4096, 8192, 10_000);
        }

        /** A copy with other timeouts. */
        public Options withTimeouts(Duration idle, Duration requestHeader) {
            return new Options(ioThreads, handlerThreads, idle, requestHeader, maxInitialLineLength, maxHeaderSize,
                    maxConnections);
        }

        /** A copy with another connection limit. */
        public Options withMaxConnections(int max) {
            return new Options(ioThreads, handlerThreads, idleTimeout, requestHeaderTimeout, maxInitialLineLength,
                    maxHeaderSize, max);
        }
    }

    private final Path dir;
    private final InetSocketAddress bind;
    private final Options options;
    private final MirrorMetrics metrics;
    private final UploadSettings uploads;
    private EventLoopGroup bossGroup;
    private EventLoopGroup ioGroup;
    private EventExecutorGroup handlerGroup;
    private Channel serverChannel;
    private boolean closed;

    /** A server over {@code dir} with {@link Options#defaults()}. */
    public MirrorServer(Path dir, InetSocketAddress bind, MeterRegistry registry) {
        this(dir, bind, registry, Options.defaults());
    }

    /**
     * @param dir      the mirror directory (holding {@code packages/} and {@code simple/})
     * @param bind     address to listen on; port 0 picks a free port
     * @param registry where the meters of {@link MirrorMetrics} are registered; {@code /metrics} scrapes it
     *                 when it is a {@code PrometheusMeterRegistry}
     */
    public MirrorServer(Path dir, InetSocketAddress bind, MeterRegistry registry, Options options) {
        this(dir, bind, registry, options, null);
    }

    /**
     * As above, with the upload endpoint on when {@code uploads} is not null. The mirror must then have an
     * upload policy ({@code pinfleet mirror init}), and the server needs write access to {@code dir}.
     */
    public MirrorServer(Path dir, InetSocketAddress bind, MeterRegistry registry, Options options,
            UploadSettings uploads) {
        this.dir = dir.toAbsolutePath().normalize();
        this.bind = bind;
        this.options = options;
        this.metrics = new MirrorMetrics(registry);
        this.uploads = uploads;
    }

    /**
     * Binds and starts serving.
     *
     * @return the bound port
     * @throws IOException when {@code dir} is not a directory or the address cannot be bound
     */
    public synchronized int start() throws IOException {
        if (serverChannel != null || closed) {
            throw new IllegalStateException("MirrorServer can be started once");
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("mirror directory " + dir + " does not exist or is not a directory");
        }
        if (uploads != null) {
            try {
                UploadPolicy.load(dir);
            } catch (PolicyException e) {
                throw new IOException("uploads are on, but " + e.getMessage(), e);
            }
            UploadHandler.prepareIncoming(dir);
        }
        MirrorIndex index = new MirrorIndex(dir);
        bossGroup = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("mirror-accept"),
                NioIoHandler.newFactory());
        ioGroup = new MultiThreadIoEventLoopGroup(options.ioThreads(), new DefaultThreadFactory("mirror-io"),
                NioIoHandler.newFactory());
        handlerGroup = new DefaultEventExecutorGroup(options.handlerThreads(),
                new DefaultThreadFactory("mirror-handler"));
        HttpDecoderConfig decoder = new HttpDecoderConfig()
                .setMaxInitialLineLength(options.maxInitialLineLength())
                .setMaxHeaderSize(options.maxHeaderSize())
                .setMaxChunkSize(64 * 1024);
        long idleNanos = options.idleTimeout().toNanos();
        long headerNanos = options.requestHeaderTimeout().toNanos();
        ServerBootstrap b = new ServerBootstrap()
                .group(bossGroup, ioGroup)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast("idle", new IdleStateHandler(true, 0, 0, idleNanos, TimeUnit.NANOSECONDS))
                                .addLast("http", new HttpServerCodec(decoder))
                                .addLast("guard", new ConnectionGuard(metrics, options.maxConnections(), headerNanos));
                        EventExecutor worker = handlerGroup.next();
                        if (uploads != null) {
                            ch.pipeline().addLast("upload", new UploadHandler(dir, uploads, metrics, worker));
                        }
                        ch.pipeline().addLast("mirror", new MirrorHandler(dir, index, metrics, worker));
                    }
                });
        try {
            serverChannel = b.bind(bind).syncUninterruptibly().channel();
        } catch (RuntimeException e) {
            shutdownGroups();
            throw new IOException("cannot listen on " + bind + ": " + e.getMessage(), e);
        }
        return port();
    }

    /** The bound port; only after {@link #start()}. */
    public synchronized int port() {
        if (serverChannel == null) {
            throw new IllegalStateException("MirrorServer is not started");
        }
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /**
     * Client connections open right now, as the {@code pinfleet_mirror_connections_active} gauge shows them: counted
     * when accepted (also those about to be closed for exceeding the limit), uncounted when closed.
     */
    public int openConnections() {
        return metrics.connections().get();
    }

    /** Stops listening, closes open connections and stops the threads. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
        shutdownGroups();
    }

    private void shutdownGroups() {
        for (var g : new EventExecutorGroup[] {bossGroup, ioGroup, handlerGroup}) {
            if (g != null) {
                g.shutdownGracefully(0, 2, TimeUnit.SECONDS);
            }
        }
        for (var g : new EventExecutorGroup[] {bossGroup, ioGroup, handlerGroup}) {
            if (g != null) {
                g.terminationFuture().awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }
}

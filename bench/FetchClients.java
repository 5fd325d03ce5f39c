package dev.pinfleet.agent.fetch;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Source;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.stream.Stream;

/**
 * The fetch benchmark (bench/fetch.sh): the agent's download path (ArtifactFetch: status rules, streaming SHA-256
 * and size check, commit into a content store) with three HTTP clients underneath, on the same wheels from the same
 * loopback `pinfleet mirror serve`: (a) the agent's plain-socket client {@link PlainHttpDownload}, (b) the JDK's
 * {@code HttpClient} ({@link HttpDownload}, what the agent uses for https), (c) Netty's {@code HttpClientCodec} on
 * its native epoll transport (below, written for this comparison). Per round and client: wall time, this JVM's CPU
 * time and the mirror process's CPU time; the order of the clients rotates from round to round; one warm-up round
 * (all three) is not counted. Prints medians, the ratios against (a) and one {@code FETCH {json}} line.
 *
 * <p>Usage: {@code FetchClients MIRROR_URL MIRROR_DIR WORK_DIR ROUNDS PARALLELISM MIRROR_PID}
 */
public final class FetchClients {
    private FetchClients() {}

    public static void main(String[] args) throws Exception {
        URI mirror = URI.create(args[0]);
        Path mirrorDir = Path.of(args[1]);
        Path work = Path.of(args[2]);
        int rounds = Integer.parseInt(args[3]);
        int parallelism = Integer.parseInt(args[4]);
        long mirrorPid = Long.parseLong(args[5]);
        List<Artifact> wheels = wheels(mirrorDir);
        long bytes = wheels.stream().mapToLong(Artifact::getSize).sum();
        System.out.printf("fetch bench: %d wheels, %.1f MB, from %s, %d at once, %d rounds after one warm-up%n",
                wheels.size(), bytes / 1e6, mirror, parallelism, rounds);

        FetchConfig defaults = FetchConfig.defaults();
        FetchConfig cfg = new FetchConfig(parallelism, defaults.connectTimeout(), defaults.requestTimeout(),
                defaults.idleTimeout(), 1, defaults.backoffBase(), defaults.minSpeed());
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
        timer.setRemoveOnCancelPolicy(true);
        int loops = Math.min(parallelism, Runtime.getRuntime().availableProcessors());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(loops,
                Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Map<String, Transfer.Transport> clients = new LinkedHashMap<>();
        clients.put("plain-socket", new PlainHttpDownload(cfg, timer));
        clients.put("jdk-httpclient", new HttpDownload(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(cfg.connectTimeout()).build(), cfg, timer));
        clients.put("netty", new NettyDownload(cfg, timer, group));
        System.out.println("netty transport: " + (Epoll.isAvailable() ? "epoll" : "nio") + ", " + loops
                + " event loop thread(s)");

        List<String> names = new ArrayList<>(clients.keySet());
        Map<String, List<double[]>> samples = new LinkedHashMap<>();
        names.forEach(n -> samples.put(n, new ArrayList<>()));
        for (int r = 0; r <= rounds; r++) {
            StringBuilder line = new StringBuilder(r == 0 ? "warm-up " : String.format("round %d ", r));
            for (int i = 0; i < names.size(); i++) {
                String name = names.get((i + r) % names.size());
                double[] s = once(clients.get(name), wheels, mirror, cfg, work.resolve("r" + r + "-" + name), mirrorPid);
                line.append(String.format(Locale.ROOT, " | %s wall %.2f s cpu %.2f s mirror-cpu %.2f s", name, s[0],
                        s[1], s[2]));
                if (r > 0) {
                    samples.get(name).add(s);
                }
            }
            System.out.println(line);
        }
        double[] base = medians(samples.get(names.get(0)));
        StringBuilder json = new StringBuilder("{\"wheels\": " + wheels.size() + ", \"bytes\": " + bytes
                + ", \"rounds\": " + rounds + ", \"parallelism\": " + parallelism);
        System.out.println("medians (ratio to plain-socket):");
        for (String name : names) {
            double[] m = medians(samples.get(name));
            System.out.printf(Locale.ROOT, "  %-15s wall %.2f s (%.2fx)  cpu %.2f s (%.2fx)  mirror cpu %.2f s (%.2fx)%n",
                    name, m[0], m[0] / base[0], m[1], m[1] / base[1], m[2], m[2] / base[2]);
            String key = name.replace('-', '_');
            json.append(String.format(Locale.ROOT, ", \"%s_wall_s\": %.3f, \"%s_cpu_s\": %.3f, \"%s_mirror_cpu_s\": %.3f,"
                    + " \"%s_cpu_ratio\": %.3f, \"%s_wall_ratio\": %.3f", key, m[0], key, m[1], key, m[2], key,
                    m[1] / base[1], key, m[0] / base[0]));
        }
        String least = names.stream().min(Comparator.comparingDouble(n -> medians(samples.get(n))[1])).orElseThrow();
        StringBuilder verdict = new StringBuilder("least CPU: " + least);
        for (String name : names) {
            if (!name.equals(least)) {
                verdict.append(String.format(Locale.ROOT, "; %s uses %.2fx its CPU", name,
                        medians(samples.get(name))[1] / medians(samples.get(least))[1]));
            }
        }
        System.out.println(verdict);
        System.out.println("FETCH " + json.append(", \"least_cpu\": \"").append(least).append("\"}"));
        group.shutdownGracefully().sync();
        timer.shutdownNow();
        System.exit(0);
    }

    /** Wall seconds, this process's CPU seconds and the mirror's CPU seconds for fetching every wheel once. */
    private static double[] once(Transfer.Transport client, List<Artifact> wheels, URI mirror, FetchConfig cfg,
            Path storeDir, long mirrorPid) throws Exception {
        ContentStore store = new ContentStore(storeDir);
        ArtifactFetch fetch = new ArtifactFetch(List.of(mirror), store, cfg, Sleeper.system(), u -> client);
        Batch batch = new Batch();
        ExecutorService pool = Executors.newFixedThreadPool(cfg.parallelism());
        System.gc();
        long cpu0 = processCpuNanos();
        long mirror0 = mirrorCpuTicks(mirrorPid);
        long t0 = System.nanoTime();
        List<Future<FetchResult>> done = new ArrayList<>();
        for (Artifact a : wheels) {
            done.add(pool.submit(() -> fetch.fetch(a, batch)));
        }
        for (Future<FetchResult> f : done) {
            FetchResult r = f.get();
            if (r.source() != Source.MIRROR) {
                throw new IllegalStateException(r.filename() + " did not come from the mirror");
            }
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double cpu = (processCpuNanos() - cpu0) / 1e9;
        double mirrorCpu = (mirrorCpuTicks(mirrorPid) - mirror0) / (double) CLOCK_TICKS;
        pool.shutdown();
        try (Stream<Path> s = Files.walk(storeDir)) { // not timed
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        return new double[] {wall, cpu, mirrorCpu};
    }

    private static final long CLOCK_TICKS = 100; // USER_HZ on Linux

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
    private static long mirrorCpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static double[] medians(List<double[]> rows) {
        double[] out = new double[3];
        for (int k = 0; k < 3; k++) {
            int col = k;
            double[] v = rows.stream().mapToDouble(x -> x[col]).sorted().toArray();
            out[k] = v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
        }
        return out;
    }

    /** Every .whl under MIRROR_DIR/packages, largest first (as the agent orders downloads). */
    private static List<Artifact> wheels(Path mirrorDir) throws IOException {
        List<Artifact> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(mirrorDir.resolve("packages"))) {
            for (Path p : s.filter(f -> f.toString().endsWith(".whl")).toList()) {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                md.update(Files.readAllBytes(p));
                out.add(Artifact.newBuilder().setName(p.getParent().getFileName().toString()).setVersion("0")
                        .setFilename(p.getFileName().toString()).setPath(mirrorDir.relativize(p).toString())
                        .setSha256(HexFormat.of().formatHex(md.digest())).setSize(Files.size(p))
                        .setKind(ArtifactKind.WHEEL).build());
            } 
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        out.sort(Comparator.comparingLong(Artifact::getSize).reversed());
        return out;
    }

    /**
     * (c) One GET with Netty's HTTP/1.1 client codec: a connection per attempt (as the plain client), the body's
     * chunks handed to the {@link PartialFile} on the event loop, the same status rules ({@link Transfer}) and watchdog.
     * Whole-file attempts only (no Range resume: the bench never cuts a download).
     */
    static final class NettyDownload implements Transfer.Transport {
        private final FetchConfig cfg;
        private final ScheduledExecutorService timer;
        private final EventLoopGroup group;

        NettyDownload(FetchConfig cfg, ScheduledExecutorService timer, EventLoopGroup group) {
            this.cfg = cfg;
            this.timer = timer;
            this.group = group;
        }

        @Override
        public boolean run(Artifact a, URI url, PartialFile part, Batch batch) throws FetchException, InterruptedException {
            Transfer.resetPart(part, a, url);
            CompletableFuture<Void> done = new CompletableFuture<>();
            try (Watchdog dog = new Watchdog(timer, cfg.idleTimeout(), cfg.requestTimeout(), cfg.minSpeed())) {
                batch.watch(dog);
                try {
                    int port = url.getPort() > 0 ? url.getPort() : 80;
                    Bootstrap b = new Bootstrap().group(group)
                            .channel(Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class)
                            .option(ChannelOption.TCP_NODELAY, true)
                            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) cfg.connectTimeout().toMillis())
                            .handler(new ChannelInitializer<SocketChannel>() {
                                @Override
                                protected void initChannel(SocketChannel ch) {
                                    ch.pipeline().addLast(new HttpClientCodec(4096, 65536, Transfer.BUFFER),
                                            new Body(a, url, part, dog, done));
                                }
                            });
                    Channel ch = b.connect(url.getHost(), port).sync().channel();
                    dog.onTrip(ch::close);
                    String target = url.getRawPath() + (url.getRawQuery() == null ? "" : "?" + url.getRawQuery());
                    DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target);
                    req.headers().set(HttpHeaderNames.HOST, url.getRawAuthority())
                            .set(HttpHeaderNames.USER_AGENT, Transfer.USER_AGENT)
                            .set(HttpHeaderNames.ACCEPT_ENCODING, "identity")
                            .set(HttpHeaderNames.CONNECTION, "close");
                    ch.writeAndFlush(req);
                    done.get();
                    ch.close();
                    return false;
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof FetchException fe) {
                        throw fe;
                    }
                    throw new FetchException(Kind.CONNECTION, a.getFilename(), url.toString(), "netty: "
                            + Transfer.describe(e.getCause()), e.getCause());
                } catch (RuntimeException e) { // connect failures come out of sync() unchecked
                    throw new FetchException(Kind.CONNECTION, a.getFilename(), url.toString(), "netty: "
                            + Transfer.describe(e), e);
                } finally {
                    batch.unwatch(dog);
                }
            }
        }
    }

    /** Streams one response's body into the partial file; completes {@code done} at its end or on failure. */
    static final class Body extends SimpleChannelInboundHandler<HttpObject> {
        private final Artifact a;
        private final URI url;
        private final PartialFile part;
        private final Watchdog dog;
        private final CompletableFuture<Void> done;
        private final byte[] buf = new byte[Transfer.BUFFER];

        Body(Artifact a, URI url, PartialFile part, Watchdog dog, CompletableFuture<Void> done) {
            this.a = a;
            this.url = url;
            this.part = part;
            this.dog = dog;
            this.done = done;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) throws Exception {
            if (done.isDone()) {
                return;
            }
            try {
                if (msg instanceof HttpResponse resp) {
                    Transfer.acceptStatus(resp.status().code(), n -> Optional.ofNullable(resp.headers().get(n)), 0,
                            a.getSize(), a, url, part);
                }
                if (msg instanceof HttpContent c) {
                    ByteBuf content = c.content();
                    while (content.isReadable()) {
                        int n = Math.min(buf.length, content.readableBytes());
                        content.readBytes(buf, 0, n);
                        dog.progress(n);
                        part.append(buf, n);
                        if (part.bytes() > a.getSize()) {
                            throw new FetchException(Kind.SIZE, a.getFilename(), url.toString(), "mirror sent more than "
                                    + "the expected " + a.getSize() + " bytes", null);
                        }
                    }
                    if (msg instanceof LastHttpContent) {
                        if (part.bytes() != a.getSize()) {
                            throw new FetchException(Kind.SIZE, a.getFilename(), url.toString(), "body ended after "
                                    + part.bytes() + " bytes where " + a.getSize() + " were expected", null);
                        }
                        done.complete(null);
                        ctx.close();
                    }
                }
            } catch (FetchException | IOException e) {
                done.completeExceptionally(e);
                ctx.close();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            done.completeExceptionally(new FetchException(Kind.CONNECTION, a.getFilename(), url.toString(),
                    "connection lost after " + part.bytes() + " of " + a.getSize() + " bytes", null));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.completeExceptionally(cause);
            ctx.close();
        }
    }
}

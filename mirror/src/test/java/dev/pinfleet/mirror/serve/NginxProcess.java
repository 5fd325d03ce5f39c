package dev.pinfleet.mirror.serve;

import dev.pinfleet.testing.LoopbackPorts;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real nginx on a random loopback port, from a private prefix directory, in the foreground (unprivileged workers
 * when run as root): serving a mirror directory with the server block {@link NginxConfig} generates (the one
 * {@code pinfleet mirror nginx-conf} prints), or a cache tier with the configuration of {@link NginxTier} (the
 * one {@code pinfleet mirror nginx-conf --cache-of} prints and the Ansible role renders). Closing stops it, by its
 * pid. Shared with the controller's tests through this module's test jar.
 */
public final class NginxProcess implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/sbin/nginx");

    private final Process process;
    private final Path prefix;
    private final int port;

    private NginxProcess(Process process, Path prefix, int port) {
        this.process = process;
        this.prefix = prefix;
        this.port = port;
    }

    public static boolean installed() {
        return Files.isExecutable(BINARY);
    }

    /** Starts nginx for {@code mirror}; a few attempts, since the free port is picked before nginx binds it. */
    public static NginxProcess start(Path mirror, Path prefix) throws IOException, InterruptedException {
        return start(prefix, port -> NginxConfig.serverBlock(mirror, "127.0.0.1:" + port, "localhost", null, 0));
    }

    /**
     * Starts a cache tier in front of {@code origin} (a base URL), its cache in {@code prefix/cache}, every other
     * setting at the default the role and {@code pinfleet mirror nginx-conf --cache-of} use.
     */
    public static NginxProcess startTier(String origin, Path prefix) throws IOException, InterruptedException {
        return start(prefix, port -> NginxTier.of(origin, "127.0.0.1:" + port, "localhost")
                .withCacheDir(prefix.resolve("cache")).render());
    }

    /**
     * Starts nginx with {@code httpContext(port)} (server blocks and other http-level directives) listening on
     * 127.0.0.1:port; a few attempts, since the free port is picked before nginx binds it.
     */
    public static NginxProcess start(Path prefix, java.util.function.IntFunction<String> httpContext)
            throws IOException, InterruptedException {
        Files.createDirectories(prefix);
        String user = System.getProperty("user.name").equals("root") ? "nobody " + nobodyGroup() : null;
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = LoopbackPorts.unclaimed();
            Path conf = prefix.resolve("nginx.conf");
            Files.writeString(conf, NginxConfig.standalone(httpContext.apply(port), prefix, user));
            Path log = prefix.resolve("stdout.log");
            Process p = new ProcessBuilder(BINARY.toString(), "-p", prefix + "/", "-e", prefix.resolve("error.log").toString(),
                    "-c", conf.toString(), "-g", "daemon off;").redirectErrorStream(true).redirectOutput(log.toFile())
                    .start();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos(); // a busy machine starts it late
            while (System.nanoTime() < deadline && p.isAlive()) {
                if (answersAsNginx(port) && p.isAlive()) {
                    return new NginxProcess(p, prefix, port);
                }
                Thread.sleep(50);
            }
            stop(p);
            last = new IOException("nginx did not start on port " + port + ":\n" + Files.readString(log)
                    + readIfExists(prefix.resolve("error.log")));
        }
        throw last;
    }

    /**
     * Whether an HTTP request to {@code port} is answered by nginx (its {@code Server} header), not merely whether
     * something accepts connections there: another process that took the port first would accept too (a gRPC server
     * answers an HTTP/1.1 request with an HTTP/2 GOAWAY), while this nginx failed to bind it.
     */
    private static boolean answersAsNginx(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(5000);
            s.getOutputStream().write(("HEAD /nginx-start-probe HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String head = new String(s.getInputStream().readNBytes(1024), StandardCharsets.ISO_8859_1);
            return head.startsWith("HTTP/1.") && head.toLowerCase(java.util.Locale.ROOT).contains("\r\nserver: nginx");
        } catch (IOException notYet) {
            return false;
        }
    }

    public int port() {
        return port;
    }

    /** {@code http://127.0.0.1:PORT/}. */
    public String baseUrl() {
        return "http://127.0.0.1:" + port + "/";
    }

    /** The master process's pid (its workers are its children). */
    public long pid() {
        return process.pid();
    }

    public String accessLog() throws IOException {
        return readIfExists(prefix.resolve("access.log"));
    }

    /** One request of the access log (nginx's default "combined" format). */
    public record Logged(String method, String path, int status, long bodyBytes) {}

    private static final Pattern COMBINED = Pattern.compile("\"([A-Z]+) (\\S+) HTTP/[0-9.]+\" ([0-9]{3}) ([0-9]+) ");

    /** The requests of the access log so far, in order; a line that is not a request fails the test. */
    public List<Logged> logged() throws IOException {
        List<Logged> out = new ArrayList<>();
        for (String line : accessLog().split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            Matcher m = COMBINED.matcher(line);
            if (!m.find()) {
                throw new IllegalStateException("not an access log line of nginx's combined format: " + line);
            }
            out.add(new Logged(m.group(1), m.group(2), Integer.parseInt(m.group(3)), Long.parseLong(m.group(4))));
        }
        return out;
    }

    /** Body bytes sent for requests whose path starts with {@code pathPrefix}, from the access log. */
    public long sentBytes(String pathPrefix) throws IOException {
        return logged().stream().filter(l -> l.path().startsWith(pathPrefix)).mapToLong(Logged::bodyBytes).sum();
    }

    @Override
    public void close() throws InterruptedException {
        stop(process);
    }

    /**
     * SIGTERM to the master, which stops its workers and exits; if it has not within 10 s (a loaded machine), SIGKILL
     * to it and to its workers, each by the pid of a process this master started (a SIGKILLed master leaves its
     * workers running).
     */
    private static void stop(Process master) throws InterruptedException {
        List<ProcessHandle> workers = new ArrayList<>(master.descendants().toList());
        master.destroy();
        if (!master.waitFor(10, TimeUnit.SECONDS)) {
            workers.addAll(master.descendants().toList());
            master.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            workers.forEach(ProcessHandle::destroyForcibly);
        }
    }

    private static String nobodyGroup() throws IOException {
        List<String> groups = Files.readAllLines(Path.of("/etc/group"), StandardCharsets.UTF_8);
        return groups.stream().anyMatch(g -> g.startsWith("nogroup:")) ? "nogroup" : "nobody";
    }

    private static String readIfExists(Path p) throws IOException {
        return Files.exists(p) ? Files.readString(p) : "";
    }
}

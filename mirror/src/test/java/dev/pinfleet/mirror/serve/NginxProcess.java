package dev.pinfleet.mirror.serve;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx serving a mirror directory on a random loopback port, from a private prefix directory, in the
 * foreground (unprivileged workers when run as root), with the server block {@link NginxConfig} generates (the
 * one {@code pinfleet mirror nginx-conf} prints). Closing stops it. Shared with the controller's tests through
 * this module's test jar.
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
        Files.createDirectories(prefix);
        String user = System.getProperty("user.name").equals("root") ? "nobody " + nobodyGroup() : null;
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Path conf = prefix.resolve("nginx.conf");
            Files.writeString(conf, NginxConfig.standalone(
                    NginxConfig.serverBlock(mirror, "127.0.0.1:" + port, "localhost", null, 0), prefix, user));
            Path log = prefix.resolve("stdout.log");
            Process p = new ProcessBuilder(BINARY.toString(), "-p", prefix + "/", "-e", prefix.resolve("error.log").toString(),
                    "-c", conf.toString(), "-g", "daemon off;").redirectErrorStream(true).redirectOutput(log.toFile())
                    .start();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos(); // a busy machine starts it late
            while (System.nanoTime() < deadline && p.isAlive()) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return new NginxProcess(p, prefix, port);
                } catch (IOException notYet) {
                    Thread.sleep(50);
                }
            }
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            last = new IOException("nginx did not start on port " + port + ":\n" + Files.readString(log)
                    + readIfExists(prefix.resolve("error.log")));
        }
        throw last;
    }

    public int port() {
        return port;
    }

    public String accessLog() throws IOException {
        return readIfExists(prefix.resolve("access.log"));
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
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

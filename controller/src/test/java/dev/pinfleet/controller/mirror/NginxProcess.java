package dev.pinfleet.controller.mirror;

import dev.pinfleet.mirror.serve.NginxConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx serving a mirror directory with the server block 'pinfleet mirror nginx-conf' prints, on a
 * random loopback port, from a private prefix, in the foreground (unprivileged workers when run as root).
 */
final class NginxProcess implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/sbin/nginx");

    private final Process process;
    private final int port;

    private NginxProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    static boolean installed() {
        return Files.isExecutable(BINARY);
    }

    static NginxProcess start(Path mirror, Path prefix) throws IOException, InterruptedException {
        Files.createDirectories(prefix);
        String user = null;
        if (System.getProperty("user.name").equals("root")) {
            boolean nogroup = Files.readAllLines(Path.of("/etc/group"), StandardCharsets.UTF_8).stream()
                    .anyMatch(g -> g.startsWith("nogroup:"));
            user = "nobody " + (nogroup ? "nogroup" : "nobody");
        }
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Path conf = prefix.resolve("nginx.conf");
            Files.writeString(conf, NginxConfig.standalone(
                    NginxConfig.serverBlock(mirror, "127.0.0.1:" + port, "localhost", null, 0), prefix, user));
            Path log = prefix.resolve("stdout.log");
            Process p = new ProcessBuilder(BINARY.toString(), "-p", prefix + "/", "-e", prefix.resolve("error.log").toString(),
                    "-c", conf.toString(), "-g", "daemon off;").redirectErrorStream(true).redirectOutput(log.toFile())
                    .start();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline && p.isAlive()) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return new NginxProcess(p, port);
                } catch (IOException notYet) {
                    Thread.sleep(50);
                }
            }
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            Path err = prefix.resolve("error.log");
            last = new IOException("nginx did not start on port " + port + ": " + Files.readString(log)
                    + (Files.exists(err) ? Files.readString(err) : ""));
        }
        throw last;
    }

    int port() {
        return port;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }
}

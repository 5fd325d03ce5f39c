package dev.pinfleet.controller.mirror;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP relay on a loopback port in front of {@code 127.0.0.1:targetPort} that lets the first {@code allowed}
 * connections through and holds every later one: accepted, never answered, until the gate closes. Put between a
 * cache tier and its origin, it stops the tier after a known number of origin fetches, so a test can act while
 * a deploy is certainly in the middle: some files served, the others waited for. Closing closes every socket.
 */
final class TcpGate implements AutoCloseable {
    private final ServerSocket server;
    private final int targetPort;
    private final int allowed;
    private final AtomicInteger passed = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Socket> held = new CopyOnWriteArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "tcp-gate");
        t.setDaemon(true);
        return t;
    });

    TcpGate(int targetPort, int allowed) throws IOException {
        this.targetPort = targetPort;
        this.allowed = allowed;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        threads.execute(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    /** Connections let through so far. */
    int passed() {
        return passed.get();
    }

    /** Waits until at least {@code n} connections are held; false when {@code timeout} passed first. */
    boolean awaitHeld(int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (held.size() < n) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket in;
            try {
                in = server.accept();
            } catch (IOException closed) {
                return;
            }
            sockets.add(in);
            if (passed.get() >= allowed) {
                held.add(in);
                continue;
            }
            passed.incrementAndGet();
            threads.execute(() -> relay(in));
        }
    }

    private void relay(Socket in) {
        try {
            Socket out = new Socket();
            sockets.add(out);
            out.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort), 5000);
            threads.execute(() -> pump(out, in));
            pump(in, out);
        } catch (IOException e) {
            close(in);
        }
    }

    /** Copies {@code from} to {@code to} until either ends, then closes both. */
    private static void pump(Socket from, Socket to) {
        byte[] buf = new byte[64 * 1024];
        try (InputStream is = from.getInputStream(); OutputStream os = to.getOutputStream()) {
            for (int n; (n = is.read(buf)) >= 0; ) {
                os.write(buf, 0, n);
            }
        } catch (IOException ended) {
            // one side went away: the other goes too
        } finally {
            close(from);
            close(to);
        }
    }

    private static void close(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        sockets.forEach(TcpGate::close);
        threads.shutdownNow();
        threads.awaitTermination(10, TimeUnit.SECONDS);
    }
}

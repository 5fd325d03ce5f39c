package dev.pinfleet.controller.threat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A network link with faults, as a TCP relay the test places between two parties (for where {@code tc netem} is not
 * available): every connection made to {@link #port()} is relayed to the target, and each chunk of bytes, in each
 * direction, is delivered {@link Faults#latencyMillis} after it was read, in order. A chunk is "lost" with
 * probability {@link Faults#loss}: like a TCP segment that had to be sent again, it arrives {@link
 * Faults#retransmitMillis} later still, and everything behind it waits (the bytes themselves are never lost: TCP
 * would deliver them). With probability {@link Faults#dropConnection} a connection is reset after a random number of
 * bytes from the target, and with {@link Faults#stallConnection} it stops passing bytes at such a point until
 * either end gives up. Decisions come from a {@link Random} with a seed, printed by the test.
 */
final class FaultyLink implements AutoCloseable {

    /**
     * @param latencyMillis    delay of every chunk, each direction
     * @param loss             probability that a chunk arrives {@code retransmitMillis} later still
     * @param retransmitMillis extra delay of a lost chunk
     * @param dropConnection   probability that a connection is reset part-way
     * @param stallConnection  probability that a connection stops passing bytes part-way
     */
    record Faults(long latencyMillis, double loss, long retransmitMillis, double dropConnection,
                  double stallConnection) {
        /** Latency and loss only: every connection goes through, late. */
        static Faults slow(long latencyMillis, double loss) {
            return new Faults(latencyMillis, loss, 300, 0, 0);
        }

        /** Latency and loss, and a share of connections reset or stalled. */
        Faults breaking(double drop, double stall) {
            return new Faults(latencyMillis, loss, retransmitMillis, drop, stall);
        }
    }

    /** A point in a connection's stream from the target after which it is reset or stalls. */
    private static final int FAULT_WITHIN_BYTES = 4096;

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Faults faults;
    private final Random random;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "faulty-link");
        t.setDaemon(true);
        return t;
    });
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger dropped = new AtomicInteger();
    private final AtomicInteger stalled = new AtomicInteger();

    private FaultyLink(ServerSocket server, InetSocketAddress target, Faults faults, Random random) {
        this.server = server;
        this.target = target;
        this.faults = faults;
        this.random = random;
        threads.execute(this::acceptLoop);
    }

    /** Listens on {@code listen} (an address of this host, port 0: any free one) and relays to {@code target}. */
    static FaultyLink start(InetAddress listen, InetSocketAddress target, Faults faults, Random random)
            throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(listen, 0), 200);
        return new FaultyLink(s, target, faults, random);
    }

    int port() {
        return server.getLocalPort();
    }

    String host() {
        return server.getInetAddress().getHostAddress();
    }

    /** "N connections, R reset, S stalled" over {@code links}: what they relayed and broke on purpose. */
    static String counts(java.util.Collection<FaultyLink> links) {
        int c = 0;
        int r = 0;
        int s = 0;
        for (FaultyLink l : links) {
            c += l.connections.get();
            r += l.dropped.get();
            s += l.stalled.get();
        }
        return c + " connections, " + r + " reset, " + s + " stalled";
    }

    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Socket s : sockets) {
            closeQuietly(s);
        }
        threads.shutdownNow();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            threads.execute(() -> relay(client));
        }
    }

    private void relay(Socket client) {
        connections.incrementAndGet();
        sockets.add(client);
        Socket upstream = new Socket();
        sockets.add(upstream);
        try {
            client.setTcpNoDelay(true);
            upstream.setTcpNoDelay(true);
            upstream.connect(target, 10_000);
        } catch (IOException e) {
            closeQuietly(client);
            closeQuietly(upstream);
            return;
        }
        long faultAt;
        boolean reset;
        synchronized (random) {
            double roll = random.nextDouble();
            reset = roll < faults.dropConnection();
            boolean stall = !reset && roll < faults.dropConnection() + faults.stallConnection();
            faultAt = reset || stall ? random.nextInt(FAULT_WITHIN_BYTES) : -1;
        }
        if (faultAt >= 0) {
            (reset ? dropped : stalled).incrementAndGet();
        }
        Runnable end = () -> {
            closeQuietly(client);
            closeQuietly(upstream);
        };
        Runnable resetBoth = () -> {
            for (Socket s : List.of(client, upstream)) {
                try {
                    s.setSoLinger(true, 0); // RST, as a dropped connection looks to both ends
                } catch (SocketException ignored) {
                    // already closed
                }
            }
            end.run();
        };
        direction(client, upstream, -1, null, end);
        direction(upstream, client, faultAt, reset ? resetBoth : null, end);
    }

    /**
     * Relays {@code from} to {@code to} through a queue of chunks with delivery times: a reader and a writer thread.
     * After {@code faultAt} bytes (never when negative) the stream is reset by {@code fault}, or, when that is
     * null, stops passing bytes.
     */
    private void direction(Socket from, Socket to, long faultAt, Runnable fault, Runnable end) {
        BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
        threads.execute(() -> {
            long lastDue = 0;
            long passed = 0;
            byte[] buf = new byte[16 * 1024];
            try {
                InputStream in = from.getInputStream();
                for (int n; (n = in.read(buf)) >= 0; ) {
                    int keep = n;
                    boolean faultHere = faultAt >= 0 && passed + n >= faultAt;
                    if (faultHere) {
                        keep = (int) (faultAt - passed);
                    }
                    long due = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(faults.latencyMillis()
                            + (lost() ? faults.retransmitMillis() : 0));
                    lastDue = Math.max(lastDue, due);
                    if (keep > 0) {
                        queue.add(new Chunk(Arrays.copyOf(buf, keep), lastDue, false));
                    }
                    passed += keep;
                    if (faultHere) {
                        if (fault != null) {
                            queue.add(new Chunk(null, lastDue, true));
                        }
                        return; // a stall: nothing more is read, the ends time out on their own
                    }
                }
            } catch (IOException e) {
                // the reading end closed or was reset
            }
            queue.add(new Chunk(null, lastDue, false));
        });
        threads.execute(() -> {
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk c = queue.take();
                    long wait = c.due - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    if (c.reset) {
                        fault.run();
                        return;
                    }
                    if (c.bytes == null) {
                        end.run(); // one side ended: a relay has no half-close to offer, so both end
                        return;
                    }
                    out.write(c.bytes);
                    out.flush();
                }
            } catch (IOException e) {
                end.run();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    private boolean lost() {
        synchronized (random) {
            return random.nextDouble() < faults.loss();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private record Chunk(byte[] bytes, long due, boolean reset) {}
}

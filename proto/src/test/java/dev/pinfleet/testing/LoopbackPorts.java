package dev.pinfleet.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loopback ports for a server that a test starts as another process and that must be told its port up front (nginx,
 * Prometheus, PostgreSQL). Such a port is free when chosen and bound by the server a little later; a port from the
 * kernel's ephemeral range (what binding port 0 gives) can be taken in between by any outgoing connection or port-0
 * listener on the machine, which a busy CI box has plenty of. So the port comes from below that range
 * ({@code net.ipv4.ip_local_port_range}), where only an explicit bind takes one; the callers still retry a start that
 * found it taken, and check that what answers is their own server.
 */
public final class LoopbackPorts {
    private static final int LOWEST = 10_000;
    private static final int TRIES = 200;

    private LoopbackPorts() {}

    /** A loopback port that is free now, below the ephemeral range where the machine says where that range starts. */
    public static int unclaimed() throws IOException {
        int high = ephemeralLow();
        for (int i = 0; high > LOWEST && i < TRIES; i++) {
            int port = ThreadLocalRandom.current().nextInt(LOWEST, high);
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            } catch (IOException taken) {
                // try another
            }
        }
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort(); // no room below the range (or no /proc): the kernel's choice
        }
    }

    /**
     * A loopback port where a connection is refused for as long as the returned socket stays open (close it when
     * done): the socket is bound to the port but never listens. A port merely found free and closed again would
     * refuse only until another program on the machine takes it, which on a busy machine happens.
     */
    public static Socket refusing() throws IOException {
        Socket s = new Socket();
        try {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** Closes every socket {@link #refusing()} gave (their ports may be taken again) and forgets them. */
    public static void release(java.util.List<Socket> held) {
        for (Socket s : held) {
            try {
                s.close();
            } catch (IOException ignored) {
                // a socket that never connected: nothing to lose
            }
        }
        held.clear();
    }

    private static int ephemeralLow() {
        try {
            return Integer.parseInt(Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim()
                    .split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}

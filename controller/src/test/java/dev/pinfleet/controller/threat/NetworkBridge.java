package dev.pinfleet.controller.threat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A Linux bridge the test creates (needs root), with an address of this namespace on a free 10.x.y.0/24, and
 * network namespaces hung on it, one veth pair each: a small switched network of test hosts that reach this host
 * (and each other) at 10.x.y.N. Closing deletes the namespaces, then the bridge; end the processes inside first.
 */
final class NetworkBridge implements AutoCloseable {
    final String name;
    /** This host's address on the bridge. */
    final String address;
    private final String prefix;
    private final String tag;
    private final List<NetworkNamespace> members = new ArrayList<>();

    private NetworkBridge(String name, String prefix, String tag) {
        this.name = name;
        this.prefix = prefix;
        this.address = prefix + "1";
        this.tag = tag;
    }

    /**
     * Creates the bridge, up, with its address.
     *
     * @throws IOException naming the command and its output where bridges or namespaces cannot be made here
     */
    static NetworkBridge create() throws IOException, InterruptedException {
        String tag = Long.toString(ProcessHandle.current().pid() % 100_000, 36) + Integer.toString(
                ThreadLocalRandom.current().nextInt(36 * 36), 36);
        NetworkBridge b = new NetworkBridge("pfb" + tag, NetworkNamespace.freeSubnet(), tag);
        NetworkNamespace.run("ip", "link", "add", b.name, "type", "bridge");
        try {
            NetworkNamespace.run("ip", "addr", "add", b.address + "/24", "dev", b.name);
            NetworkNamespace.run("ip", "link", "set", b.name, "up");
        } catch (IOException | RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    /** A new namespace on the bridge at address 10.x.y.(10 + {@code index}); {@code index} is 1..200. */
    NetworkNamespace join(int index) throws IOException, InterruptedException {
        if (index < 1 || index > 200) {
            throw new IllegalArgumentException("index " + index + " is not 1..200");
        }
        NetworkNamespace ns = NetworkNamespace.onBridge(name, address, "pfnet-" + tag + "-" + index,
                "pfb" + tag + "h" + index, "pfb" + tag + "n" + index, prefix + (10 + index), 24);
        members.add(ns);
        return ns;
    }

    @Override
    public void close() {
        IllegalStateException failed = null;
        for (int i = members.size() - 1; i >= 0; i--) {
            try {
                members.get(i).close();
            } catch (IllegalStateException e) {
                failed = e;
            }
        }
        try {
            NetworkNamespace.run("ip", "link", "del", name);
        } catch (IOException e) {
            failed = new IllegalStateException("could not delete the test's bridge " + name + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (failed != null) {
            throw failed;
        }
    }
}

package dev.pinfleet.controller.threat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace the test creates ({@code ip netns}, needs root), joined to this namespace by a veth pair:
 * {@link #hostAddress} on this side, {@link #nsAddress} inside, a /30 of 10.0.0.0/8 that no interface or route here
 * uses. {@link #cut()} takes the inside end down: packets to the namespace then go nowhere (a cable pulled), until
 * {@link #restore()}. {@link #partition()} drops every packet on the link inside the namespace ({@code iptables}
 * there), until {@link #heal()}. A namespace can also hang on a {@link NetworkBridge} instead of a link of its own.
 * Closing deletes the namespace and with it the pair; end the processes started inside first.
 */
final class NetworkNamespace implements AutoCloseable {
    private static final long COMMAND_SECONDS = 10;

    final String name;
    final String hostAddress;
    final String nsAddress;
    private final String hostIf;
    private final String nsIf;

    private NetworkNamespace(String name, String hostIf, String nsIf, String hostAddress, String nsAddress) {
        this.name = name;
        this.hostIf = hostIf;
        this.nsIf = nsIf;
        this.hostAddress = hostAddress;
        this.nsAddress = nsAddress;
    }

    /**
     * Creates the namespace and the link, both ends up, loopback up inside.
     *
     * @throws IOException naming the command and its output when {@code ip netns} is not possible here
     */
    static NetworkNamespace create() throws IOException, InterruptedException {
        String tag = Long.toString(ProcessHandle.current().pid() % 100_000, 36) + Integer.toString(
                ThreadLocalRandom.current().nextInt(36 * 36), 36);
        String name = "pfthreat-" + tag;
        String prefix = freeSubnet();
        NetworkNamespace ns = new NetworkNamespace(name, "pft" + tag + "h", "pft" + tag + "n", prefix + "1", prefix + "2");
        run("ip", "netns", "add", name);
        try {
            run("ip", "link", "add", ns.hostIf, "type", "veth", "peer", "name", ns.nsIf);
            run("ip", "link", "set", ns.nsIf, "netns", name);
            run("ip", "addr", "add", ns.hostAddress + "/30", "dev", ns.hostIf);
            run("ip", "link", "set", ns.hostIf, "up");
            ns.inside("ip", "addr", "add", ns.nsAddress + "/30", "dev", ns.nsIf);
            ns.inside("ip", "link", "set", ns.nsIf, "up");
            ns.inside("ip", "link", "set", "lo", "up");
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /**
     * Creates namespace {@code name} and a veth pair whose outside end {@code hostIf} joins {@code bridge};
     * {@code nsAddress} (with {@code prefixLength}) goes on the inside end, whose peer on the bridge is
     * {@code bridgeAddress}.
     */
    static NetworkNamespace onBridge(String bridge, String bridgeAddress, String name, String hostIf, String nsIf,
            String nsAddress, int prefixLength) throws IOException, InterruptedException {
        NetworkNamespace ns = new NetworkNamespace(name, hostIf, nsIf, bridgeAddress, nsAddress);
        run("ip", "netns", "add", name);
        try {
            run("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
            run("ip", "link", "set", nsIf, "netns", name);
            run("ip", "link", "set", hostIf, "master", bridge);
            run("ip", "link", "set", hostIf, "up");
            ns.inside("ip", "addr", "add", nsAddress + "/" + prefixLength, "dev", nsIf);
            ns.inside("ip", "link", "set", nsIf, "up");
            ns.inside("ip", "link", "set", "lo", "up");
        } catch (IOException | RuntimeException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /** Drops every packet in and out on the namespace's link ({@code iptables -j DROP} inside it). */
    void partition() throws IOException, InterruptedException {
        inside("iptables", "-w", "-I", "INPUT", "-i", nsIf, "-j", "DROP");
        inside("iptables", "-w", "-I", "OUTPUT", "-o", nsIf, "-j", "DROP");
    }

    /** Removes the rules of {@link #partition()}. */
    void heal() throws IOException, InterruptedException {
        inside("iptables", "-w", "-D", "INPUT", "-i", nsIf, "-j", "DROP");
        inside("iptables", "-w", "-D", "OUTPUT", "-o", nsIf, "-j", "DROP");
    }

    /**
     * Puts {@code tc netem} with {@code args} (e.g. {@code delay 100ms loss 5%}) on the inside end of the link.
     *
     * @throws IOException with tc's answer where the kernel has no netem ("Specified qdisc kind is unknown")
     */
    void netem(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("tc", "qdisc", "add", "dev", nsIf, "root", "netem"));
        cmd.addAll(List.of(args));
        inside(cmd.toArray(String[]::new));
    }

    /** Checks that {@code iptables} works inside the namespace (it lists the rules). */
    void checkIptables() throws IOException, InterruptedException {
        inside("iptables", "-w", "-S");
    }

    /** The words that run a command inside the namespace ({@code ip netns exec NAME}; it execs the command). */
    List<String> launcher() {
        return List.of("ip", "netns", "exec", name);
    }

    /** Takes the inside end of the link down: connections to {@link #nsAddress} find no one. */
    void cut() throws IOException, InterruptedException {
        inside("ip", "link", "set", nsIf, "down");
    }

    /** Brings the inside end back up. */
    void restore() throws IOException, InterruptedException {
        inside("ip", "link", "set", nsIf, "up");
    }

    private void inside(String... cmd) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(launcher());
        all.addAll(List.of(cmd));
        run(all.toArray(String[]::new));
    }

    @Override
    public void close() {
        try {
            run("ip", "netns", "del", name);
        } catch (IOException e) {
            throw new IllegalStateException("could not delete the test's network namespace " + name + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** "10.x.y." such that no address or route of this namespace lies in 10.x.y.0/24 (the link uses .1 and .2). */
    static String freeSubnet() throws IOException, InterruptedException {
        String used = run("ip", "-4", "-o", "addr", "show") + run("ip", "-4", "route", "show");
        for (int i = 0; i < 50; i++) {
            String net = "10." + ThreadLocalRandom.current().nextInt(200, 255) + "." + ThreadLocalRandom.current().nextInt(256) + ".";
            if (!used.contains(net)) {
                return net;
            }
        }
        throw new IOException("no free 10.x.y.0/24 for a test network namespace; in use:\n" + used);
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (!p.waitFor(COMMAND_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("'" + String.join(" ", cmd) + "' did not finish within " + COMMAND_SECONDS + " s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException("'" + String.join(" ", cmd) + "' exited with " + p.exitValue() + ": " + out.strip());
        }
        return out;
    }
}

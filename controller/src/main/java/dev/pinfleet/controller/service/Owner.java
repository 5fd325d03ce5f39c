package dev.pinfleet.controller.service;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.UUID;

/**
 * Who holds a rollout's lease: {@code HOST/PID/START/INSTANCE} (the process's start time in milliseconds since the
 * Unix epoch, and a random id per controller). A controller on the same host can tell at once that the holder's
 * process is gone (killed, crashed, or the CLI that ran an embedded controller was stopped); on another host only
 * the lease's expiry tells.
 *
 * @param id the whole owner string, as recorded
 */
record Owner(String id) {
    /** This process's controller instance: a new one per controller. */
    static Owner newInstance() {
        ProcessHandle me = ProcessHandle.current();
        long start = me.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        return new Owner(host() + "/" + me.pid() + "/" + start + "/" + UUID.randomUUID().toString().substring(0, 8));
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }

    /**
     * Whether the holder {@code other} is known to be gone: its process on this host is not running (or is another
     * process under a reused pid). False when it runs, or runs elsewhere (then the lease's expiry decides).
     */
    boolean isGone(String other) {
        Optional<String[]> p = parse(other);
        if (p.isEmpty() || !p.get()[0].equals(host())) {
            return false;
        }
        String[] o = p.get();
        long pid;
        long start;
        try {
            pid = Long.parseLong(o[1]);
            start = Long.parseLong(o[2]);
        } catch (NumberFormatException e) {
            return false;
        }
        Optional<ProcessHandle> h = ProcessHandle.of(pid);
        if (h.isEmpty() || !h.get().isAlive()) {
            return true;
        }
        long actual = h.get().info().startInstant().map(java.time.Instant::toEpochMilli).orElse(start);
        return Math.abs(actual - start) > 1_000; // the pid was reused by a later process
    }

    private static Optional<String[]> parse(String owner) {
        String[] p = owner.split("/");
        return p.length == 4 ? Optional.of(p) : Optional.empty();
    }

    /** The holder's process id and host, for messages. */
    static String describe(String owner) {
        String[] p = owner.split("/");
        return p.length == 4 ? "process " + p[1] + " on " + p[0] : owner.isEmpty() ? "no controller" : owner;
    }

    @Override
    public String toString() {
        return id;
    }
}

package dev.pinfleet.controller.service;

import dev.pinfleet.fs.KeyFile;
import dev.pinfleet.controller.store.DatabaseUrl;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The served controller's configuration: defaults, then a properties file, then flags; validated at start.
 *
 * @param listen      gRPC listen address for operators
 * @param database    where the records are
 * @param tlsCert     the controller's certificate (role controller; server for operators, client for agents)
 * @param tlsKey      its private key
 * @param tlsCa       the fleet CA: operator certificates must chain to it, and so must agents'
 * @param trustedKeys directory of the Ed25519 *.pub keys a manifest must be signed with
 * @param threshold   distinct trusted signatures a manifest needs
 * @param lease       how long the controller's hold on a rollout lasts unless renewed
 * @param metricsListen where {@code GET /metrics} is served (plain HTTP), or null: off
 * @param statusPoll  how often every node the records know is asked its Status (version spread, serials seen);
 *                    zero: never
 * @param advertise   host:port operators dial to reach this controller (told by a standby refusing a write), or
 *                    empty: the listen address, or this host's name when it listens on every address
 */
public record ServeConfig(InetSocketAddress listen, DatabaseUrl database, Path tlsCert, Path tlsKey, Path tlsCa,
        Path trustedKeys, int threshold, Duration lease, InetSocketAddress metricsListen, Duration statusPoll,
        String advertise) {

    /** Every key, with its default ("" when required) and meaning, in documentation order. */
    public static final Map<String, String[]> KEYS = keys();

    private static Map<String, String[]> keys() {
        Map<String, String[]> k = new LinkedHashMap<>();
        k.put("listen", new String[] {"127.0.0.1:7300", "gRPC listen address host:port for operators (mutual TLS)"});
        k.put("database", new String[] {"/var/lib/pinfleet-controller/records.db", "the records: a SQLite file, or"
                + " postgresql://USER@HOST:PORT/DB"});
        k.put("database-password-file", new String[] {"", "file holding the PostgreSQL password (empty: none, or in"
                + " the URL)"});
        k.put("tls-cert", new String[] {"/etc/pinfleet/tls/controller.crt", "the controller's certificate (pinfleet"
                + " certs issue --role controller NAME --san HOST)"});
        k.put("tls-key", new String[] {"/etc/pinfleet/tls/controller.key", "its private key"});
        k.put("tls-ca", new String[] {"/etc/pinfleet/tls/ca.crt", "the fleet CA: operators' and agents' certificates"
                + " must chain to it"});
        k.put("trusted-keys", new String[] {"/etc/pinfleet/trusted-keys", "directory of the *.pub keys a manifest must"
                + " be signed with (checked before any node is contacted)"});
        k.put("threshold", new String[] {"1", "distinct trusted signatures a manifest needs (k of n)"});
        k.put("lease-seconds", new String[] {"30", "how long the controller's hold on a running rollout, and the active"
                + " controller's leadership lease, last unless renewed; the standby takes over after it"});
        k.put("metrics-listen", new String[] {"", "host:port of GET /metrics (Prometheus text, plain HTTP: rollouts by"
                + " app, environment and outcome, durations, time to restore, nodes of running rollouts, nodes per app by"
                + " release digest); empty: off"});
        k.put("status-poll-seconds", new String[] {"30", "every this many seconds, ask every node of the recent"
                + " rollouts' targets its Status (at most " + StatusPoller.IN_FLIGHT + " calls at once): the version"
                + " spread on /metrics, and the serials agents report for NextSerial; 0: never"});
        k.put("advertise", new String[] {"", "host:port operators dial to reach this controller, which a standby names"
                + " when it refuses a write (empty: the listen address, or this host's name and the port when listening"
                + " on every address)"});
        return java.util.Collections.unmodifiableMap(k);
    }

    /** Defaults, then {@code file} (may be null), then {@code flags}; refuses unknown keys and bad values by name. */
    public static ServeConfig load(Path file, Map<String, String> flags, Path base) throws IOException {
        Map<String, String> defaults = new LinkedHashMap<>();
        KEYS.forEach((key, d) -> defaults.put(key, d[0]));
        Map<String, String> v = KeyFile.read(file, defaults);
        flags.forEach((key, value) -> {
            if (value != null) {
                v.put(key, value);
            }
        });
        return from(v, base);
    }

    private static ServeConfig from(Map<String, String> v, Path base) throws IOException {
        DatabaseUrl db = DatabaseUrl.parse(v.get("database"), base);
        String pwFile = v.get("database-password-file");
        if (!pwFile.isEmpty()) {
            db = db.withPassword(Files.readString(Path.of(pwFile), StandardCharsets.UTF_8).strip());
        }
        int threshold = positive("threshold", v.get("threshold"));
        int lease = positive("lease-seconds", v.get("lease-seconds"));
        if (lease < 3) {
            throw new IOException("lease-seconds must be at least 3, got " + lease);
        }
        String metrics = v.get("metrics-listen").strip();
        int poll = atLeastZero("status-poll-seconds", v.get("status-poll-seconds"));
        return new ServeConfig(address("listen", v.get("listen")), db, path("tls-cert", v), path("tls-key", v),
                path("tls-ca", v), path("trusted-keys", v), threshold, Duration.ofSeconds(lease),
                metrics.isEmpty() ? null : address("metrics-listen", metrics), Duration.ofSeconds(poll),
                advertise(v.get("advertise").strip()));
    }

    private static int atLeastZero(String key, String s) throws IOException {
        return s.strip().equals("0") ? 0 : positive(key, s);
    }

    private static String advertise(String s) throws IOException {
        if (!s.isEmpty()) {
            address("advertise", s);
        }
        return s;
    }

    /** Where operators reach this controller serving on {@code port}: {@link #advertise}, or derived from listen. */
    public String advertised(int port) {
        if (!advertise.isEmpty()) {
            return advertise;
        }
        String host;
        if (listen.getAddress() != null && listen.getAddress().isAnyLocalAddress()) {
            try {
                host = java.net.InetAddress.getLocalHost().getCanonicalHostName();
            } catch (java.net.UnknownHostException e) {
                host = listen.getHostString();
            }
        } else {
            host = listen.getHostString();
        }
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    private static Path path(String key, Map<String, String> v) throws IOException {
        String s = v.get(key);
        if (s.isEmpty()) {
            throw new IOException(key + " is required");
        }
        return Path.of(s);
    }

    private static int positive(String key, String s) throws IOException {
        try {
            int n = Integer.parseInt(s.strip());
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IOException(key + " must be a whole number of at least 1, got '" + s + "'");
        }
    }

    static InetSocketAddress address(String key, String s) throws IOException {
        int colon = s.lastIndexOf(':');
        if (colon < 1) {
            throw new IOException(key + " '" + s + "' is not host:port");
        }
        String host = s.substring(0, colon).replaceAll("^\\[(.*)]$", "$1");
        try {
            int port = Integer.parseInt(s.substring(colon + 1));
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return new InetSocketAddress(host, port);
        } catch (NumberFormatException e) {
            throw new IOException(key + " '" + s + "': the port is not a number 0-65535");
        }
    }
}

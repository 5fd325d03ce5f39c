package dev.pinfleet.agent.config;

import dev.pinfleet.fs.KeyFile;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The agent's configuration: defaults &lt; file (Java properties) &lt; command-line flags, validated
 * once at start into an immutable record. {@link #KEYS} documents every key; the Ansible role's
 * template writes exactly these keys.
 *
 * @param node this node's name, reported to the controller
 * @param root directory the agent owns: store, cache, apps, state
 * @param listen gRPC listen address (host:port)
 * @param trustedKeys directory of trusted Ed25519 *.pub keys
 * @param threshold distinct trusted signatures a manifest needs
 * @param mirrors mirror base URLs, tried in order
 * @param python base interpreter that releases are built on
 * @param environment this node's environment; manifests bound to another are refused (empty: accept only unbound)
 * @param fetchParallelism downloads at once
 * @param installParallelism threads that unpack and link wheels (a large wheel is shared among them)
 * @param keepReleases releases kept per app (at least 2: current and previous)
 * @param shutdownSeconds bound on shutdown: a running deploy gets this long to finish, then is aborted
 * @param plaintext serve gRPC without TLS; allowed only when listening on loopback (development)
 * @param tlsCert PEM certificate chain of this agent (role agent, SAN = its inventory name); null when plaintext
 * @param tlsKey PEM PKCS#8 private key of that certificate; null when plaintext
 * @param tlsCa PEM certificate of the fleet CA that client certificates must chain to; null when plaintext
 * @param metricsListen address of the Prometheus {@code GET /metrics} endpoint (host:port); null when off
 * @param storeMaxBytes cap on store plus unpacked cache bytes, enforced after each deploy by removing the oldest
 *     releases that are no app's current or previous one; 0 for no cap
 * @param grpcHandshakeTimeout a connection whose TLS handshake is not complete within this is closed
 * @param grpcMaxConnectionIdle a connection without a call in progress for this long is closed (also one that
 *     never sent a complete HTTP/2 preface)
 * @param grpcMaxConnections open gRPC connections at most; one beyond it is closed as it is accepted (logged)
 * @param fetchTries attempts per mirror for retryable download failures (5xx, 408, 429, lost connection, timeout)
 * @param fetchBackoff wait before the first retry on a mirror (doubling, jittered, at most 30 s)
 * @param fetchIdleTimeout a download with no byte for this long is abandoned; also the fetch-min-speed window
 * @param fetchMinSpeed bytes per second a download must average over each fetch-idle-timeout window; 0: no floor
 * @param fetchRequestTimeout deadline of one download attempt, from the request to the last byte
 */
public record AgentConfig(String node, Path root, InetSocketAddress listen, Path trustedKeys, int threshold,
        List<URI> mirrors, Path python, String environment, int fetchParallelism, int installParallelism,
        int keepReleases, int shutdownSeconds, boolean plaintext, Path tlsCert, Path tlsKey, Path tlsCa,
        InetSocketAddress metricsListen, long storeMaxBytes, Duration grpcHandshakeTimeout,
        Duration grpcMaxConnectionIdle, int grpcMaxConnections, int fetchTries, Duration fetchBackoff, Duration fetchIdleTimeout,
        long fetchMinSpeed, Duration fetchRequestTimeout) {

    /** Every key, with its default ("" when required or empty) and meaning, in documentation order. */
    public static final Map<String, String[]> KEYS = keys();

    private static Map<String, String[]> keys() {
        Map<String, String[]> k = new LinkedHashMap<>();
        k.put("node", new String[] {"", "this node's name in reports (default: the host name)"});
        k.put("root", new String[] {"/var/lib/pinfleet", "directory the agent owns: store/, cache/, apps/"});
        k.put("listen", new String[] {"127.0.0.1:7400", "gRPC listen address host:port"});
        k.put("grpc-handshake-timeout", new String[] {"20s", "close a connection whose TLS handshake is not done"
                + " within this (durations: 500ms, 20s, 10m, 1h; a bare number is seconds)"});
        k.put("grpc-max-connection-idle", new String[] {"10m", "close a connection without a call in progress for"
                + " this long (also one that never completes the HTTP/2 preface)"});
        k.put("grpc-max-connections", new String[] {"128", "open gRPC connections at most; one beyond it is closed"
                + " as it is accepted, with a log line"});
        k.put("trusted-keys", new String[] {"/etc/pinfleet/trusted-keys", "directory of trusted Ed25519 *.pub keys"});
        k.put("threshold", new String[] {"1", "distinct trusted signatures a manifest needs (k of n)"});
        k.put("mirrors", new String[] {"", "comma-separated mirror base URLs, tried in order (required)"});
        k.put("python", new String[] {"python3", "base interpreter releases are built on"});
        k.put("environment", new String[] {"", "this node's environment; manifests bound to another are refused"});
        k.put("fetch-parallelism", new String[] {"8", "downloads at once"});
        k.put("fetch-tries", new String[] {"3", "attempts per mirror for retryable download failures (5xx, 408, 429,"
                + " lost connection, timeout) before the next mirror"});
        k.put("fetch-backoff", new String[] {"500ms", "wait before the first retry on a mirror; doubles per retry"
                + " (jittered, at most 30s)"});
        k.put("fetch-idle-timeout", new String[] {"30s", "abandon a download attempt with no byte for this long"});
        k.put("fetch-min-speed", new String[] {"1K", "bytes per second (or with K, M) a download attempt must average"
                + " over each fetch-idle-timeout window, else it is abandoned as too slow; 0: no floor"});
        k.put("fetch-request-timeout", new String[] {"10m", "deadline of one download attempt, request to last byte"});
        k.put("install-parallelism", new String[] {"2", "threads that unpack and link wheels (a large wheel is shared among them)"});
        k.put("keep-releases", new String[] {"3", "releases kept per app (at least 2: current and previous)"});
        k.put("store-max-bytes", new String[] {"0", "cap on store plus unpacked cache (bytes, or with K, M, G, T); "
                + "beyond it the oldest releases that are no app's current or previous one are removed; 0: no cap"});
        k.put("shutdown-seconds", new String[] {"30", "a running deploy gets this long to finish at shutdown, then is aborted"});
        k.put("plaintext", new String[] {"false", "serve gRPC without TLS; only allowed on a loopback listen address"});
        k.put("tls-cert", new String[] {"", "PEM certificate of this agent (from 'pinfleet certs issue --role agent NAME'); required unless plaintext"});
        k.put("tls-key", new String[] {"", "PEM private key of tls-cert; required unless plaintext"});
        k.put("tls-ca", new String[] {"", "PEM certificate of the fleet CA; only controller certificates it issued get in; required unless plaintext"});
        k.put("metrics-listen", new String[] {"", "host:port of the Prometheus GET /metrics endpoint (plain HTTP); empty: off"});
        return java.util.Collections.unmodifiableMap(k);
    }

    /** Reads the optional file, applies overrides, validates. */
    public static AgentConfig load(Path file, Map<String, String> overrides) throws IOException {
        Map<String, String> defaults = new LinkedHashMap<>();
        KEYS.forEach((key, d) -> defaults.put(key, d[0]));
        Map<String, String> v = KeyFile.read(file, defaults);
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            if (!KEYS.containsKey(e.getKey())) {
                throw new IllegalArgumentException("unknown option --" + e.getKey() + " (known: " + KEYS.keySet() + ")");
            }
            v.put(e.getKey(), e.getValue());
        }
        return fromMap(v);
    }

    static AgentConfig fromMap(Map<String, String> v) {
        String node = v.get("node");
        if (node.isEmpty()) {
            try {
                node = java.net.InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                node = "localhost";
            }
        }
        List<URI> mirrors = new ArrayList<>();
        for (String m : v.get("mirrors").split(",")) {
            if (m.isBlank()) {
                continue;
            }
            URI u = URI.create(m.strip().endsWith("/") ? m.strip() : m.strip() + "/");
            if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
                throw new IllegalArgumentException("mirrors: '" + m + "' is not an http(s) URL");
            }
            mirrors.add(u);
        }
        if (mirrors.isEmpty()) {
            throw new IllegalArgumentException("mirrors: at least one mirror URL is required");
        }
        InetSocketAddress listen = address("listen", v.get("listen"));
        boolean plaintext = Boolean.parseBoolean(v.get("plaintext"));
        if (plaintext && !listen.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("plaintext=true is only allowed on a loopback listen address, not "
                    + v.get("listen"));
        }
        Path[] tls = new Path[3];
        String[] tlsKeys = {"tls-cert", "tls-key", "tls-ca"};
        for (int i = 0; i < 3 && !plaintext; i++) {
            String t = v.getOrDefault(tlsKeys[i], "");
            if (t.isBlank()) {
                throw new IllegalArgumentException(tlsKeys[i] + ": required (mutual TLS: tls-cert, tls-key, tls-ca"
                        + " from 'pinfleet certs'), or plaintext=true on a loopback listen address for development");
            }
            tls[i] = Path.of(t.strip()).toAbsolutePath();
            if (!Files.isReadable(tls[i])) {
                throw new IllegalArgumentException(tlsKeys[i] + ": " + tls[i] + " is not a readable file");
            }
        }
        int keep = positive("keep-releases", v.get("keep-releases"));
        if (keep < 2) {
            throw new IllegalArgumentException("keep-releases must be at least 2 (current and previous), got " + keep);
        }
        return new AgentConfig(node, Path.of(v.get("root")).toAbsolutePath().normalize(), listen,
                Path.of(v.get("trusted-keys")), positive("threshold", v.get("threshold")), List.copyOf(mirrors),
                Path.of(v.get("python")), v.get("environment"), positive("fetch-parallelism", v.get("fetch-parallelism")),
                positive("install-parallelism", v.get("install-parallelism")), keep,
                positive("shutdown-seconds", v.get("shutdown-seconds")), plaintext, tls[0], tls[1], tls[2],
                v.get("metrics-listen").isBlank() ? null : address("metrics-listen", v.get("metrics-listen").strip()),
                bytes("store-max-bytes", v.get("store-max-bytes")),
                duration("grpc-handshake-timeout", v.get("grpc-handshake-timeout"), false),
                duration("grpc-max-connection-idle", v.get("grpc-max-connection-idle"), false),
                positive("grpc-max-connections", v.get("grpc-max-connections")),
                positive("fetch-tries", v.get("fetch-tries")), duration("fetch-backoff", v.get("fetch-backoff"), true),
                duration("fetch-idle-timeout", v.get("fetch-idle-timeout"), false),
                bytes("fetch-min-speed", v.get("fetch-min-speed")),
                duration("fetch-request-timeout", v.get("fetch-request-timeout"), false));
    }

    /**
     * A duration: a whole number followed by ms, s, m or h (a bare number is seconds), e.g. {@code 500ms},
     * {@code 20s}, {@code 10m}; zero only when {@code zeroAllowed}.
     */
    static Duration duration(String key, String value, boolean zeroAllowed) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,9})\\s*(ms|s|m|h)?")
                .matcher(value.strip().toLowerCase(java.util.Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException(key + ": '" + value + "' is not a duration (a whole number followed by"
                    + " ms, s, m or h, e.g. 500ms, 20s, 10m; a bare number is seconds)");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        Duration d = switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofSeconds(n);
        };
        if (d.isZero() && !zeroAllowed) {
            throw new IllegalArgumentException(key + ": must be longer than zero, got '" + value + "'");
        }
        return d;
    }

    static InetSocketAddress address(String key, String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(key + ": '" + hostPort + "' is not host:port");
        }
        String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        return new InetSocketAddress(host, positiveOrZero(key, hostPort.substring(colon + 1)));
    }

    /** A size: a whole number of bytes, optionally followed by K, M, G or T (powers of 1024). */
    static long bytes(String key, String value) {
        String v = value.strip().toUpperCase(java.util.Locale.ROOT);
        int shift = 0;
        if (!v.isEmpty() && "KMGT".indexOf(v.charAt(v.length() - 1)) >= 0) {
            shift = 10 * (1 + "KMGT".indexOf(v.charAt(v.length() - 1)));
            v = v.substring(0, v.length() - 1);
        }
        try {
            long n = Long.parseLong(v);
            if (n < 0 || n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": '" + value + "' is not a size (a non-negative number of bytes,"
                    + " or one followed by K, M, G or T)");
        }
    }

    private static int positive(String key, String value) {
        int n = positiveOrZero(key, value);
        if (n == 0) {
            throw new IllegalArgumentException(key + ": must be at least 1");
        }
        return n;
    }

    private static int positiveOrZero(String key, String value) {
        try {
            int n = Integer.parseInt(value.strip());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": '" + value + "' is not a non-negative whole number");
        }
    }
}

package dev.pinfleet.controller.e2e;

import dev.pinfleet.controller.threat.ControllerProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code pinfleet controller serve} as a real process for tests: a fleet CA with a controller certificate for
 * 127.0.0.1 and an operator certificate for alice (made with the real {@code pinfleet certs}), its records in a SQLite
 * file (or a database URL), the manifest keys it trusts; a free loopback port. It can be killed (SIGKILL) and started
 * again on the same records. Closing kills it.
 */
final class ServedController implements AutoCloseable {
    /** How often it polls its nodes' Status (the version spread on /metrics): often, so tests wait little for it. */
    static final long STATUS_POLL_SECONDS = 1;
    final Path dir;
    final Path pki;
    final String database;
    final Path trusted;
    private ControllerProcess process;
    private int port;
    private int metricsPort;
    private int starts;

    private ServedController(Path dir, Path pki, String database, Path trusted) {
        this.dir = dir;
        this.pki = pki;
        this.database = database;
        this.trusted = trusted;
    }

    /** Makes the PKI with {@code h}'s CLI (in {@code dir}/pki) and starts the controller. */
    static ServedController start(FleetHarness h, Path dir, String database, String... flags) throws Exception {
        Path pki = dir.resolve("pki");
        for (List<String> args : List.of(List.of("certs", "init", pki.toString()),
                List.of("certs", "issue", "--role", "controller", "controller", "--san", "127.0.0.1", "--dir", pki.toString()),
                List.of("certs", "issue", "--role", "operator", "alice", "--dir", pki.toString()),
                List.of("certs", "issue", "--role", "operator", "bob", "--dir", pki.toString()),
                List.of("certs", "issue", "--role", "agent", "web1", "--dir", pki.toString()))) {
            FleetHarness.Run r = h.cli(args.toArray(String[]::new));
            if (r.code() != 0) {
                throw new AssertionError(String.join(" ", args) + ": " + r.all());
            }
        }
        ServedController c = new ServedController(dir, pki, database, h.fleet.trustedKeys());
        c.flags.addAll(List.of(flags));
        c.startProcess();
        return c;
    }

    /**
     * A second controller on {@code first}'s records (a database both reach) with the same PKI and keys, in {@code
     * dir}: the standby while {@code first} is active.
     */
    static ServedController another(ServedController first, Path dir, String... flags) throws IOException,
            InterruptedException {
        Files.createDirectories(dir);
        ServedController c = new ServedController(dir, first.pki, first.database, first.trusted);
        c.flags.addAll(List.of(flags));
        c.startProcess();
        return c;
    }

    private final List<String> flags = new ArrayList<>();

    /** Its process id (to signal it). */
    long pid() {
        return process.pid();
    }

    /** "127.0.0.1:PORT". */
    String address() {
        return "127.0.0.1:" + port;
    }

    /** The options a CLI command needs to use these controllers (in this order) as {@code operator}. */
    static List<String> as(String operator, ServedController... controllers) {
        ServedController c = controllers[0];
        return List.of("--controller", java.util.Arrays.stream(controllers).map(ServedController::address)
                .collect(java.util.stream.Collectors.joining(",")), "--operator-cert", c.pki.resolve(operator + ".crt")
                .toString(), "--operator-key", c.pki.resolve(operator + ".key").toString(), "--controller-ca",
                c.pki.resolve("ca.crt").toString());
    }

    /** Starts the process (again) on the same records, waiting until it serves. */
    void startProcess() throws IOException, InterruptedException {
        Path portFile = dir.resolve("controller-" + ++starts + ".port");
        Path metricsPortFile = dir.resolve("controller-" + starts + ".metrics.port");
        List<String> args = new ArrayList<>(List.of("controller", "serve", "--listen", "127.0.0.1:0", "--port-file",
                portFile.toString(), "--database", database, "--tls-cert", pki.resolve("controller.crt").toString(),
                "--tls-key", pki.resolve("controller.key").toString(), "--tls-ca", pki.resolve("ca.crt").toString(),
                "--trusted-keys", trusted.toString(), "--metrics-listen", "127.0.0.1:0", "--metrics-port-file",
                metricsPortFile.toString(), "--status-poll-seconds", Long.toString(STATUS_POLL_SECONDS)));
        args.addAll(flags);
        process = ControllerProcess.start(args, dir);
        process.awaitLine("the controller serving", l -> l.startsWith("pinfleet controller: serving operators on"),
                Duration.ofSeconds(60));
        port = Integer.parseInt(Files.readString(portFile).strip());
        metricsPort = Integer.parseInt(Files.readString(metricsPortFile).strip());
    }

    /** The port of its {@code GET /metrics}. */
    int metricsPort() {
        return metricsPort;
    }

    /** One scrape of its {@code GET /metrics} (must answer 200). */
    String scrape() throws Exception {
        return scrape(metricsPort);
    }

    /** One scrape of the {@code GET /metrics} on a loopback {@code port} (must answer 200). */
    static String scrape(int port) throws Exception {
        java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/metrics"))
                        .timeout(Duration.ofSeconds(30)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString(java.nio.charset.StandardCharsets.UTF_8));
        if (r.statusCode() != 200) {
            throw new AssertionError("GET /metrics on port " + port + ": " + r.statusCode() + " " + r.body());
        }
        return r.body();
    }

    int port() {
        return port;
    }

    /** The options a CLI command needs to use this controller as {@code operator}. */
    List<String> as(String operator) {
        return List.of("--controller", "127.0.0.1:" + port, "--operator-cert", pki.resolve(operator + ".crt").toString(),
                "--operator-key", pki.resolve(operator + ".key").toString(), "--controller-ca",
                pki.resolve("ca.crt").toString());
    }

    /** SIGKILL; returns its exit status. */
    int kill() throws InterruptedException {
        return process.kill();
    }

    String output() {
        return process.output();
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null) {
            process.close();
        }
    }
}

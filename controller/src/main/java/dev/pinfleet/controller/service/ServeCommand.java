package dev.pinfleet.controller.service;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.ControllerTls;
import dev.pinfleet.controller.metrics.ControllerMetrics;
import dev.pinfleet.controller.rollout.AgentClient;
import dev.pinfleet.controller.store.Database;
import dev.pinfleet.controller.store.Dialect;
import dev.pinfleet.controller.store.JdbcRolloutStore;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.StoreException;
import dev.pinfleet.metrics.MetricsServer;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pinfleet controller serve}: the controller as a long-running service. */
@Command(name = "controller", mixinStandardHelpOptions = true, description = {
    "The controller as a service: rollouts kept as records in a database, for every operator and CI.",
    "Without a controller address, every pinfleet command runs the same controller inside itself on",
    ".pinfleet/records.db (SQLite) found from the current directory upwards."},
        subcommands = ServeCommand.Serve.class)
public final class ServeCommand {
    @Command(name = "serve", mixinStandardHelpOptions = true, description = {
        "Run the controller: gRPC with mutual TLS for operators (certificates of role operator, whose name is the",
        "operator in every record), rollouts run against the agents with its controller certificate, every",
        "rollout, node event and operator action recorded in SQLite or PostgreSQL. Rollouts it finds interrupted",
        "(its previous run was killed) are resumed after asking their nodes where they are.",
        "Configuration: defaults < --config FILE (a properties file of the keys below) < flags.",
        "Stops on SIGTERM: no new node starts, running rollouts are recorded interrupted (their deploys in flight",
        "finish on the agents) and resumed at the next start.",
        "Two controllers on one PostgreSQL: the one holding the leadership lease (renewed every second, on the",
        "database's clock) runs the rollouts; the other, the standby, answers reads, refuses writes naming the",
        "active one's --advertise address, and takes the lease and the rollouts over once it runs out. A second",
        "controller on one SQLite file is refused."})
    public static final class Serve implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Option(names = "--config", paramLabel = "FILE", description = "Properties file with the keys below.")
        Path config;

        @Option(names = "--listen", paramLabel = "HOST:PORT", description = "gRPC listen address for operators (default: 127.0.0.1:7300).")
        String listen;

        @Option(names = "--database", paramLabel = "PATH|URL",
                description = "The records: a SQLite file, or postgresql://USER@HOST:PORT/DB (default: /var/lib/pinfleet-controller/records.db).")
        String database;

        @Option(names = "--database-password-file", paramLabel = "FILE", description = "File holding the PostgreSQL password.")
        String databasePasswordFile;

        @Option(names = "--tls-cert", paramLabel = "PEM", description = "Controller certificate, role controller (default: /etc/pinfleet/tls/controller.crt).")
        String tlsCert;

        @Option(names = "--tls-key", paramLabel = "PEM", description = "Its private key (default: /etc/pinfleet/tls/controller.key).")
        String tlsKey;

        @Option(names = "--tls-ca", paramLabel = "PEM", description = "Fleet CA certificate (default: /etc/pinfleet/tls/ca.crt).")
        String tlsCa;

        @Option(names = "--trusted-keys", paramLabel = "DIR", description = "The *.pub keys a manifest must be signed with (default: /etc/pinfleet/trusted-keys).")
        String trustedKeys;

        @Option(names = "--threshold", paramLabel = "N", description = "Distinct trusted signatures a manifest needs (default: 1).")
        String threshold;

        @Option(names = "--lease-seconds", paramLabel = "N", description = "Hold on a running rollout unless renewed (default: 30).")
        String leaseSeconds;

        @Option(names = "--metrics-listen", paramLabel = "HOST:PORT",
                description = "Serve GET /metrics (Prometheus text, plain HTTP) on HOST:PORT (default: off).")
        String metricsListen;

        @Option(names = "--status-poll-seconds", paramLabel = "N", description = {
            "Ask every node of the recent rollouts' targets its Status every N seconds: nodes per app by release digest",
            "on /metrics (pinfleet_fleet_release_nodes), serials the agents report known to NextSerial (default: 30;",
            "0: never)."})
        String statusPollSeconds;

        @Option(names = "--advertise", paramLabel = "HOST:PORT", description = {"Where operators reach this controller,",
            "named by the standby when it refuses a write (default: the listen address; its host name on 0.0.0.0)."})
        String advertise;

        @Option(names = "--port-file", paramLabel = "FILE", description = "Write the port served to FILE once listening.")
        Path portFile;

        @Option(names = "--metrics-port-file", paramLabel = "FILE",
                description = "Write the metrics port to FILE once listening.")
        Path metricsPortFile;

        private final Clock clock;

        public Serve(Clock clock) {
            this.clock = clock;
        }

        /** The flags given, by configuration key. */
        Map<String, String> flags() {
            Map<String, String> f = new LinkedHashMap<>();
            f.put("listen", listen);
            f.put("database", database);
            f.put("database-password-file", databasePasswordFile);
            f.put("tls-cert", tlsCert);
            f.put("tls-key", tlsKey);
            f.put("tls-ca", tlsCa);
            f.put("trusted-keys", trustedKeys);
            f.put("threshold", threshold);
            f.put("lease-seconds", leaseSeconds);
            f.put("metrics-listen", metricsListen);
            f.put("status-poll-seconds", statusPollSeconds);
            f.put("advertise", advertise);
            return f;
        }

        @Override
        public Integer call() throws InterruptedException {
            PrintWriter out = spec.commandLine().getOut();
            ControllerServer server;
            ServeConfig c;
            RolloutStore store;
            Agents agents;
            try {
                c = ServeConfig.load(config, flags(), Path.of("").toAbsolutePath());
                TrustPolicy trust = TrustPolicy.fromDirectory(c.trustedKeys(), c.threshold());
                ControllerTls tls = ControllerTls.load(c.tlsCert(), c.tlsKey(), c.tlsCa());
                store = new JdbcRolloutStore(Database.open(c.database(), clock, c.lease()), clock);
                try {
                    agents = new Agents(t -> tls);
                    Controller controller = new Controller(store, new Controller.Config(agents, trust,
                            c.lease(), true, c.database().dialect() != Dialect.SQLITE), clock, d -> Thread.sleep(d.toMillis()));
                    server = ControllerServer.serve(store, controller, c.tlsCert(), c.tlsKey(), c.tlsCa(), c.listen());
                } catch (IOException | RuntimeException e) {
                    store.close();
                    throw e;
                }
            } catch (IOException | StoreException | IllegalArgumentException e) {
                throw new CliException("controller serve: " + e.getMessage());
            }
            MetricsServer metrics = null;
            ControllerMetrics meters = new ControllerMetrics(store);
            if (c.metricsListen() != null) {
                try {
                    metrics = MetricsServer.start(c.metricsListen(), () -> meters.scrape(MetricsServer.CONTENT_TYPE));
                } catch (IOException e) {
                    server.close();
                    throw new CliException("controller serve: " + e.getMessage());
                }
            }
            MetricsServer metricsServer = metrics;
            Controller running = server.controller();
            meters.leading(running::leads);
            StatusPoller poller = new StatusPoller(store, agents, clock, new StatusPoller.Config(c.statusPoll(),
                    StatusPoller.IN_FLIGHT), meters::releases, running::leads);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                poller.close();
                if (metricsServer != null) {
                    metricsServer.close();
                }
                meters.close();
                server.close();
            }, "controller-stop"));
            try {
                server.startController(c.advertised(server.port()));
            } catch (ControllerException | StoreException e) {
                server.close();
                throw new CliException("controller serve: " + e.getMessage());
            }
            poller.start();
            writePort(portFile, "--port-file", server.port());
            if (metricsServer != null) {
                writePort(metricsPortFile, "--metrics-port-file", metricsServer.port());
                out.printf("pinfleet controller: metrics on http://%s:%d%s%n", c.metricsListen().getHostString(),
                        metricsServer.port(), MetricsServer.PATH);
            }
            out.printf("pinfleet controller: serving operators on %s:%d (mutual TLS, fleet CA %s); records in %s;"
                    + " manifests need %d signature(s) of %s; agents over mutual TLS (max message %d bytes)%n",
                    c.listen().getHostString(), server.port(), c.tlsCa(), c.database(), c.threshold(), c.trustedKeys(),
                    AgentClient.MAX_INBOUND_BYTES);
            out.flush();
            new CountDownLatch(1).await(); // until SIGTERM/SIGINT: the shutdown hook stops the server
            return 0;
        }

        /** Writes {@code port} to {@code file} (null: nothing) atomically, so a reader never sees half of it. */
        private static void writePort(Path file, String flag, int port) {
            if (file == null) {
                return;
            }
            try {
                Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".port", ".tmp");
                Files.writeString(tmp, Integer.toString(port));
                Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new CliException("controller serve: cannot write " + flag + " " + file + ": " + e.getMessage());
            }
        }
    }
}

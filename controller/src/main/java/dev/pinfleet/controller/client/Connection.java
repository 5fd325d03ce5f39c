package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.trust.FleetRole;
import dev.pinfleet.controller.certs.Pem;
import dev.pinfleet.controller.rollout.FleetQuery;
import dev.pinfleet.controller.service.Agents;
import dev.pinfleet.controller.service.Controller;
import dev.pinfleet.controller.service.ControllerServer;
import dev.pinfleet.controller.store.Database;
import dev.pinfleet.controller.store.DatabaseUrl;
import dev.pinfleet.controller.store.JdbcRolloutStore;
import dev.pinfleet.controller.store.RolloutStore;
import dev.pinfleet.controller.store.StoreException;
import dev.pinfleet.proto.v1.ControllerServiceGrpc;
import dev.pinfleet.trust.TrustPolicy;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The CLI's way to the controller: a mutual-TLS channel to {@code pinfleet controller serve}, or the same controller
 * started inside this process on the local records ({@code .pinfleet/records.db}, found from the working directory
 * upwards as git finds {@code .git}, created in the working directory on first use) behind an in-process channel.
 * Either way the commands speak only the controller's gRPC API.
 */
final class Connection implements AutoCloseable {
    /** The directory of the embedded controller's records. */
    static final String DIR = ".pinfleet";
    /** The records file in it. */
    static final String FILE = "records.db";
    /** How long the embedded controller holds a rollout unless renewed. */
    static final Duration EMBEDDED_LEASE = Duration.ofSeconds(30);
    /** Deadline of one unary call, in seconds (a submission may wait for a busy database). */
    static final long CALL_SECONDS = 60;

    private final ManagedChannel local;
    private final ControllerChannel remote;
    private final ControllerServer embedded;
    private final String where;
    private boolean closed;

    private Connection(ManagedChannel local, ControllerChannel remote, ControllerServer embedded, String where) {
        this.local = local;
        this.remote = remote;
        this.embedded = embedded;
        this.where = where;
    }

    /**
     * Connects as {@code options} say. The embedded controller reaches agents as {@code agentTls} says and, with
     * {@code trust}, checks signatures before any node is contacted.
     */
    static Connection open(ControllerOptions options, AgentTlsOptions agentTls, TrustPolicy trust, CliContext ctx,
            Clock clock) {
        String address = options.address(ctx);
        return address != null ? remote(address, options, ctx) : embedded(agentTls, trust, ctx, clock);
    }

    private static Connection remote(String address, ControllerOptions o, CliContext ctx) {
        List<String> addresses = ControllerChannel.parse(address);
        Path cert = o.operatorCert(ctx);
        Path key = o.operatorKey(ctx);
        Path ca = o.controllerCa(ctx);
        if (cert == null || key == null || ca == null) {
            throw new CliException("controller " + address + ": an operator certificate is needed: --operator-cert,"
                    + " --operator-key and --controller-ca (or PINFLEET_OPERATOR_CERT, PINFLEET_OPERATOR_KEY,"
                    + " PINFLEET_CONTROLLER_CA); issue one with 'pinfleet certs issue --role operator NAME'");
        }
        try {
            X509Certificate mine = Pem.certificates(cert).get(0);
            String role = FleetRole.of(mine);
            if (!role.equals(FleetRole.OPERATOR.id())) {
                throw new CliException(cert + ": has role '" + (role.isEmpty() ? "none" : role) + "', not operator"
                        + " (issue one with 'pinfleet certs issue --role operator NAME')");
            }
            var tls = GrpcSslContexts.forClient().keyManager(cert.toFile(), key.toFile())
                    .trustManager(new RoleTrust(FleetRole.CONTROLLER.id(), Pem.certificates(ca))).protocols("TLSv1.3", "TLSv1.2").build();
            ControllerChannel ch = new ControllerChannel(addresses, a -> {
                int colon = a.lastIndexOf(':');
                return NettyChannelBuilder.forAddress(a.substring(0, colon).replaceAll("^\\[(.*)]$", "$1"),
                        Integer.parseInt(a.substring(colon + 1))).sslContext(tls)
                        .maxInboundMessageSize(ControllerServer.MAX_INBOUND_BYTES).keepAliveTime(30, TimeUnit.SECONDS)
                        .keepAliveTimeout(10, TimeUnit.SECONDS).build();
            });
            return new Connection(null, ch, null, "controller at ");
        } catch (IOException | IllegalArgumentException e) {
            throw new CliException("controller " + address + ": cannot use operator cert " + cert + ", key " + key
                    + ", CA " + ca + ": " + e.getMessage());
        }
    }

    private static Connection embedded(AgentTlsOptions agentTls, TrustPolicy trust, CliContext ctx, Clock clock) {
        Path dir = find(ctx.workingDirectory());
        DatabaseUrl url = DatabaseUrl.parse(dir.resolve(FILE).toString(), ctx.workingDirectory());
        RolloutStore store;
        try {
            store = new JdbcRolloutStore(Database.open(url, clock), clock);
        } catch (StoreException e) {
            throw new CliException(e.getMessage());
        }
        try {
            Controller c = new Controller(store, new Controller.Config(new Agents(t -> agentTls.tls(t, ctx)), trust,
                    EMBEDDED_LEASE, false, false), clock, d -> Thread.sleep(d.toMillis()));
            ControllerServer server = ControllerServer.embedded(store, c, System.getProperty("user.name", "unknown"))
                    .startController();
            return new Connection(server.channel(), null, server, "embedded controller on " + url);
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e instanceof CliException ce ? ce : new CliException("embedded controller: " + e.getMessage());
        }
    }

    /** The {@code .pinfleet} directory at or above {@code start}; made in {@code start} when there is none. */
    static Path find(Path start) {
        for (Path d = start.toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isDirectory(d.resolve(DIR))) {
                return d.resolve(DIR);
            }
        }
        Path made = start.toAbsolutePath().resolve(DIR);
        try {
            Files.createDirectory(made, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new CliException("cannot create " + made + " for the embedded controller's records: " + e.getMessage());
        }
        return made;
    }

    ControllerServiceGrpc.ControllerServiceBlockingStub blocking() {
        return blocking(CALL_SECONDS);
    }

    /**
     * A stub whose calls wait {@code seconds}: a question the controller puts to {@code nodes} agents,
     * {@code parallelism} at once, may take as long as its agents' deadlines add up to, plus {@link #CALL_SECONDS}.
     */
    ControllerServiceGrpc.ControllerServiceBlockingStub fleetQuestion(int nodes, int parallelism) {
        return blocking(FleetQuery.worstCaseSeconds(nodes, parallelism) + CALL_SECONDS);
    }

    private ControllerServiceGrpc.ControllerServiceBlockingStub blocking(long seconds) {
        return ControllerServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(seconds, TimeUnit.SECONDS);
    }

    io.grpc.Channel channel() {
        return remote != null ? remote : local;
    }

    /** "controller at HOST:PORT" (the one calls go to now) or "embedded controller on FILE". */
    String where() {
        return remote != null ? where + remote.current() : where;
    }

    /**
     * A stream from the controller broke: the next call goes to the next controller address given, if there are
     * several (two controllers on one database: the standby serves the record and takes the rollouts over).
     */
    boolean failover() {
        return remote != null && remote.next();
    }

    boolean isEmbedded() {
        return embedded != null;
    }

    /**
     * The process is being stopped: the embedded controller records its running rollouts INTERRUPTED (their deploys in
     * flight finish on the agents); a served one goes on by itself.
     */
    void stop() {
        close();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (embedded != null) {
            embedded.close();
        }
        if (remote != null) {
            remote.shutdown();
            return;
        }
        local.shutdownNow();
        try {
            local.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package dev.pinfleet.controller.service;

import dev.pinfleet.trust.FleetRole;
import dev.pinfleet.controller.certs.Pem;
import dev.pinfleet.controller.store.RolloutStore;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * The controller with its gRPC server: served over mutual TLS on a port ({@code pinfleet controller serve}), or
 * embedded in the CLI behind an in-process channel. Both run the same {@link Controller} on a {@link RolloutStore};
 * only who the caller is differs (an operator certificate, or the local user). Closing stops the server, then the
 * controller (running rollouts are recorded INTERRUPTED), then the store.
 */
public final class ControllerServer implements AutoCloseable {
    /** Largest request accepted, in bytes (a manifest of at most 4 MiB and an inventory of at most 1 MiB fit). */
    public static final int MAX_INBOUND_BYTES = 8 * 1024 * 1024;

    private final Server server;
    private final Controller controller;
    private final RolloutStore store;
    private final ManagedChannel channel;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private ControllerServer(Server server, Controller controller, RolloutStore store, ManagedChannel channel) {
        this.server = server;
        this.controller = controller;
        this.store = store;
        this.channel = channel;
    }

    /** Serves operators with a {@code controller} certificate (and key) of the fleet CA {@code ca} on {@code listen}. */
    public static ControllerServer serve(RolloutStore store, Controller controller, Path cert, Path key, Path ca,
            InetSocketAddress listen) throws IOException {
        String role = FleetRole.of(Pem.certificates(cert).get(0));
        if (!role.equals(FleetRole.CONTROLLER.id())) {
            throw new IOException(cert + ": has role '" + role + "', not controller (issue one with"
                    + " 'pinfleet certs issue --role controller NAME --san HOST')");
        }
        SslContext tls;
        try {
            tls = GrpcSslContexts.forServer(cert.toFile(), key.toFile()).trustManager(ca.toFile())
                    .clientAuth(ClientAuth.REQUIRE).protocols("TLSv1.3", "TLSv1.2").build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("TLS: cannot use cert " + cert + ", key " + key + ", CA " + ca + ": " + e.getMessage(), e);
        }
        Server s = NettyServerBuilder.forAddress(listen).sslContext(tls).maxInboundMessageSize(MAX_INBOUND_BYTES)
                .handshakeTimeout(20, TimeUnit.SECONDS).permitKeepAliveTime(10, TimeUnit.SECONDS)
                .addService(ServerInterceptors.intercept(new ControllerGrpcService(controller),
                        OperatorInterceptor.certificates()))
                .build();
        try {
            s.start();
        } catch (IOException e) {
            throw new IOException("cannot listen on " + listen + ": " + e.getMessage(), e);
        }
        return new ControllerServer(s, controller, store, null);
    }

    /** The controller inside the CLI: every call is {@code localUser}'s; reach it through {@link #channel()}. */
    public static ControllerServer embedded(RolloutStore store, Controller controller, String localUser) throws IOException {
        String name = "pinfleet-embedded-" + UUID.randomUUID();
        Server s = InProcessServerBuilder.forName(name).addService(ServerInterceptors.intercept(
                new ControllerGrpcService(controller), OperatorInterceptor.localUser(localUser))).build().start();
        return new ControllerServer(s, controller, store, InProcessChannelBuilder.forName(name).build());
    }

    /** The port served (0 for the embedded controller). */
    public int port() {
        return channel == null ? server.getPort() : 0;
    }

    /** The in-process channel to the embedded controller (null when served). */
    public ManagedChannel channel() {
        return channel;
    }

    public Controller controller() {
        return controller;
    }

    /** Starts the embedded controller's own work (interrupted rollouts, queued ones, leases). */
    public ControllerServer startController() {
        controller.start(null);
        return this;
    }

    /**
     * Starts the served controller's own work: the leadership lease first (operators reach it at {@code advertise}),
     * then, while it holds the lease, interrupted rollouts, queued ones and their leases.
     */
    public ControllerServer startController(String advertise) {
        controller.start(advertise);
        return this;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.shutdown();
        try {
            controller.close();
            if (channel != null) {
                channel.shutdownNow();
            }
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            store.close();
        }
    }

    /** For the composition roots. */
    static Clock systemClock() {
        return Clock.systemUTC();
    }
}

package dev.pinfleet.agent.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.LogCapture;
import dev.pinfleet.agent.testing.ManualClock;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's own cap on open connections (grpc-max-connections), on a real agent over loopback TCP. */
class ConnectionCapTest {
    @TempDir Path dir;
    private LogCapture logged;

    @BeforeEach
    void listen() {
        logged = LogCapture.of(ConnectionGate.class.getName());
    }

    @AfterEach
    void stopListening() {
        logged.close();
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        s.setSoTimeout(10_000);
        return s;
    }

    /** True when the agent closed the connection (end of stream or reset) within the socket's 10 s timeout. */
    private static boolean closedByAgent(Socket s) throws IOException {
        try {
            return s.getInputStream().read() == -1;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true; // reset
        }
    }

    @Test
    void aConnectionOverTheCapIsClosedAtAcceptAndLoggedAndRoomComesBackWhenOneCloses() throws Exception {
        try (TestFleet fleet = new TestFleet(dir.resolve("fleet"), URI.create("http://127.0.0.1:9/"))) {
            Agent agent = fleet.start("n1", Map.of("grpc-max-connections", "2"));
            // two connections that send nothing: held by the agent (until grpc-max-connection-idle, 10 minutes)
            try (Socket first = connect(agent.port()); Socket second = connect(agent.port());
                    Socket third = connect(agent.port())) {
                assertTrue(closedByAgent(third), "the third connection is closed as it is accepted");
                assertTrue(logged.messages().stream().anyMatch(m -> m.startsWith("node n1: closed the connection from"
                        + " /127.0.0.1:") && m.contains("2 connections are open, grpc-max-connections=2")),
                        "a log line says so: " + logged.messages());
                first.close();
                // the agent sees the close a moment later; a call gets through once it has (bounded: 30 s)
                String node = null;
                for (int i = 0; i < 60 && node == null; i++) {
                    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", agent.port()).usePlaintext()
                            .build();
                    try {
                        node = AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS)
                                .status(StatusRequest.getDefaultInstance()).getNode();
                    } catch (StatusRuntimeException e) {
                        Thread.sleep(500);
                    } finally {
                        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                    }
                }
                assertEquals("n1", node, "served once a connection closed");
                assertFalse(closedByAgent(second), "the other held connection was left alone");
            }
        }
    }

    @Test
    void aFloodOfRefusalsLogsOneLineASecondWithTheCount() {
        ManualClock clock = new ManualClock(Instant.parse("2030-01-01T00:00:00Z"), Duration.ZERO);
        ConnectionGate gate = new ConnectionGate("n1", 1, clock);
        InetSocketAddress peer = new InetSocketAddress("127.0.0.1", 5555);
        assertTrue(gate.admit(peer));
        for (int i = 0; i < 5; i++) {
            assertFalse(gate.admit(peer));
        }
        assertEquals(1, logged.messages().size(), "one line for the burst");
        clock.advance(ConnectionGate.LOG_EVERY);
        assertFalse(gate.admit(peer));
        assertEquals(2, logged.messages().size());
        assertTrue(logged.messages().get(1).endsWith("(5 refused since the last such line)"),
                logged.messages().get(1));
        gate.closed();
        assertEquals(0, gate.open());
        assertTrue(gate.admit(peer), "room again");
    }
}

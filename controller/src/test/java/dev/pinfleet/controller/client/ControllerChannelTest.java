package dev.pinfleet.controller.client;

import dev.pinfleet.testing.LoopbackPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.proto.v1.ControllerServiceGrpc;
import dev.pinfleet.proto.v1.HistoryRequest;
import dev.pinfleet.proto.v1.HistoryResponse;
import dev.pinfleet.proto.v1.NotActive;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.proto.v1.SubmitResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The CLI's way to one of several controllers, over real loopback gRPC to small controller services: a write refused
 * by a standby goes to the active controller it names, a controller that cannot be connected to is passed over, and
 * a call that reached a controller is never sent twice.
 */
class ControllerChannelTest {
    private final List<Server> servers = new ArrayList<>();
    private ControllerChannel channel;

    /** A controller that answers history with its name; submits it refuses as a standby naming {@code active}. */
    private final class Fake extends ControllerServiceGrpc.ControllerServiceImplBase {
        final String name;
        final String active;
        final AtomicInteger submits = new AtomicInteger();

        Fake(String name, String active) {
            this.name = name;
            this.active = active;
        }

        @Override
        public void history(HistoryRequest req, StreamObserver<HistoryResponse> out) {
            out.onNext(HistoryResponse.newBuilder().addRollouts(RolloutSummary.newBuilder().setOperator(name)).build());
            out.onCompleted();
        }

        @Override
        public void submit(SubmitRequest req, StreamObserver<SubmitResponse> out) {
            submits.incrementAndGet();
            if (active == null) {
                out.onNext(SubmitResponse.newBuilder().setRollout(RolloutSummary.newBuilder().setOperator(name)).build());
                out.onCompleted();
            } else if (active.equals("broken")) {
                out.onError(Status.UNAVAILABLE.withDescription("database down").asRuntimeException());
            } else {
                out.onError(StatusProto.toStatusRuntimeException(com.google.rpc.Status.newBuilder()
                        .setCode(Status.Code.FAILED_PRECONDITION.value()).setMessage("submit: refused by the standby "
                                + name).addDetails(Any.pack(NotActive.newBuilder().setActiveAddress(active)
                                .setStandbyAddress(name).build())).build()));
            }
        }
    }

    private String serve(Fake f) throws Exception {
        Server s = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .addService(f).build().start();
        servers.add(s);
        return "127.0.0.1:" + s.getPort();
    }

    /** A loopback address where connecting is refused until the test ends. */
    private String dead() throws Exception {
        refusing.add(LoopbackPorts.refusing());
        return "127.0.0.1:" + refusing.get(refusing.size() - 1).getLocalPort();
    }

    private ControllerServiceGrpc.ControllerServiceBlockingStub stub(String... addresses) {
        channel = new ControllerChannel(List.of(addresses), a -> {
            int colon = a.lastIndexOf(':');
            ManagedChannel c = NettyChannelBuilder.forAddress(a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)))
                    .usePlaintext().build();
            return c;
        });
        return ControllerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    /** Ports kept refusing connections until the test ends (bound, never listening). */
    final java.util.List<java.net.Socket> refusing = new java.util.ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        LoopbackPorts.release(refusing);
        if (channel != null) {
            channel.shutdown();
        }
        for (Server s : servers) {
            s.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aWriteRefusedByTheStandbyGoesToTheActiveItNamesWhichStaysCurrent() throws Exception {
        Fake active = new Fake("active", null);
        String activeAddress = serve(active);
        Fake standby = new Fake("standby", activeAddress);
        String standbyAddress = serve(standby);
        var stub = stub(standbyAddress, activeAddress);
        assertEquals("standby", stub.history(HistoryRequest.getDefaultInstance()).getRollouts(0).getOperator(),
                "reads are answered by the standby");
        assertEquals("active", stub.submit(SubmitRequest.getDefaultInstance()).getRollout().getOperator());
        assertEquals(1, standby.submits.get());
        assertEquals(1, active.submits.get());
        assertEquals(activeAddress, channel.current());
        assertEquals("active", stub.history(HistoryRequest.getDefaultInstance()).getRollouts(0).getOperator());
    }

    @Test
    void theActiveIsFollowedEvenWhenOnlyTheStandbyWasGiven() throws Exception {
        Fake active = new Fake("active", null);
        String activeAddress = serve(active);
        var stub = stub(serve(new Fake("standby", activeAddress)));
        assertEquals("active", stub.submit(SubmitRequest.getDefaultInstance()).getRollout().getOperator());
    }

    @Test
    void aControllerThatCannotBeConnectedToIsPassedOver() throws Exception {
        Fake second = new Fake("second", null);
        var stub = stub(dead(), serve(second));
        assertEquals("second", stub.submit(SubmitRequest.getDefaultInstance()).getRollout().getOperator());
        assertEquals(1, second.submits.get());
    }

    @Test
    void aCallThatReachedAControllerIsNeverSentAgainAndOneDeadAddressFailsPlainly() throws Exception {
        Fake broken = new Fake("broken", "broken");
        Fake other = new Fake("other", null);
        var stub = stub(serve(broken), serve(other));
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub.submit(SubmitRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        assertEquals("database down", e.getStatus().getDescription());
        assertEquals(1, broken.submits.get());
        assertEquals(0, other.submits.get(), "an answer, even an error, is not a reason to send the write elsewhere");

        String nobody = dead();
        var lone = stub(nobody);
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> lone.history(HistoryRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode());
        assertTrue(ControllerChannel.unreachable(refused.getStatus()), refused.getStatus().toString());
    }

    @Test
    void theAddressListIsCheckedAndNamed() {
        assertEquals(List.of("a:1", "b:2"), ControllerChannel.parse("a:1, b:2,a:1"));
        CliException e = assertThrows(CliException.class, () -> ControllerChannel.parse("a:1,b"));
        assertEquals("--controller 'a:1,b': 'b' is not HOST:PORT (several controllers: HOST:PORT,HOST:PORT)",
                e.getMessage());
        assertThrows(CliException.class, () -> ControllerChannel.parse("a:1,"));
        assertThrows(CliException.class, () -> ControllerChannel.parse("a:99999"));
    }
}

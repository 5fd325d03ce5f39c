package dev.pinfleet.controller.rollout;

import dev.pinfleet.proto.v1.AgentServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;

/**
 * One unary call to many agents, results in node order. The calls are asynchronous on one {@link SharedTransport}
 * (no thread per node); at most {@code parallelism} are in flight, each on its own channel, opened when its call
 * starts and shut as its answer arrives. Every call has its own deadline ({@link AgentClient#QUERY_DEADLINE_SECONDS}):
 * an agent that does not answer is reported unreachable, with its address and why, and holds up only its own slot.
 */
public final class FleetQuery {
    /** An asynchronous call on one agent's stub (its deadline already set), answering {@code answer}. */
    @FunctionalInterface
    public interface Call<T> {
        void on(AgentServiceGrpc.AgentServiceStub stub, StreamObserver<T> answer);
    }

    /** One node's answer, or why there is none (naming the node and its address). */
    public record Answer<T>(Node node, T value, String error, boolean unreachable) {}

    private FleetQuery() {}

    /**
     * The longest {@link #ask} can take for {@code nodes} agents at {@code parallelism}: every slot held to its
     * deadline, round after round. A caller waiting for the whole fleet's answer waits this long (plus its own margin).
     */
    public static long worstCaseSeconds(int nodes, int parallelism) {
        int rounds = (nodes + Math.max(1, parallelism) - 1) / Math.max(1, parallelism);
        return (long) Math.max(1, rounds) * AgentClient.QUERY_DEADLINE_SECONDS;
    }

    public static <T> List<Answer<T>> ask(List<Node> nodes, AgentClient client, int parallelism, Call<T> call)
            throws InterruptedException {
        return ask(nodes, client, parallelism, Duration.ofSeconds(AgentClient.QUERY_DEADLINE_SECONDS), call);
    }

    /** As {@link #ask(List, AgentClient, int, Call)}, each call with {@code deadline}. */
    public static <T> List<Answer<T>> ask(List<Node> nodes, AgentClient client, int parallelism, Duration deadline,
            Call<T> call) throws InterruptedException {
        Semaphore slots = new Semaphore(Math.max(1, parallelism));
        AtomicReferenceArray<Answer<T>> out = new AtomicReferenceArray<>(nodes.size());
        CountDownLatch answered = new CountDownLatch(nodes.size());
        try (SharedTransport shared = new SharedTransport()) {
            for (int i = 0; i < nodes.size(); i++) {
                slots.acquire();
                int at = i;
                start(nodes.get(i), client, shared, deadline, call, a -> {
                    out.set(at, a);
                    slots.release();
                    answered.countDown();
                });
            }
            // each call ends by its deadline, so this wait ends too; the margin covers a busy machine's scheduling
            if (!answered.await(deadline.toSeconds() + 60L, TimeUnit.SECONDS)) {
                throw new IllegalStateException(answered.getCount() + " of " + nodes.size()
                        + " agent call(s) neither answered nor failed past their deadline");
            }
        }
        List<Answer<T>> list = new ArrayList<>(nodes.size());
        for (int i = 0; i < nodes.size(); i++) {
            list.add(out.get(i));
        }
        return list;
    }

    private static <T> void start(Node n, AgentClient client, SharedTransport shared, Duration deadline, Call<T> call,
            Consumer<Answer<T>> done) {
        ManagedChannel ch;
        try {
            ch = client.open(n, shared);
        } catch (RuntimeException e) {
            done.accept(new Answer<>(n, null, n.name() + " (" + n.address() + "): unreachable: " + e.getMessage(), true));
            return;
        }
        Object[] value = new Object[1];
        call.on(AgentServiceGrpc.newStub(ch).withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS),
                new StreamObserver<>() {
                    @Override
                    public void onNext(T v) {
                        value[0] = v;
                    }

                    @Override
                    @SuppressWarnings("unchecked")
                    public void onCompleted() {
                        ch.shutdownNow(); // not awaited: this runs on the channel's event loop
                        done.accept(value[0] != null ? new Answer<>(n, (T) value[0], "", false)
                                : new Answer<>(n, null, n.name() + " (" + n.address() + "): no answer in the reply", false));
                    }

                    @Override
                    public void onError(Throwable t) {
                        ch.shutdownNow();
                        done.accept(failed(n, Status.fromThrowable(t)));
                    }
                });
    }

    private static <T> Answer<T> failed(Node n, Status s) {
        boolean unreachable = s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED;
        return new Answer<>(n, null, n.name() + " (" + n.address() + "): " + (unreachable ? "unreachable: "
                : s.getCode().name().toLowerCase(Locale.ROOT) + ": ") + Unreachable.why(n, s), unreachable);
    }
}

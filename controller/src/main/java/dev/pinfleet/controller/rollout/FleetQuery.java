package dev.pinfleet.controller.rollout;

import dev.pinfleet.proto.v1.AgentServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** One unary call to many agents at once (bounded), each with a deadline; results in node order. */
public final class FleetQuery {
    /** A call on one agent's stub. */
    @FunctionalInterface
    public interface Call<T> {
        T on(AgentServiceGrpc.AgentServiceBlockingStub stub);
    }

    /** One node's answer, or why there is none (naming the node and its address). */
    public record Answer<T>(Node node, T value, String error, boolean unreachable) {}

    private FleetQuery() {}

    public static <T> List<Answer<T>> ask(List<Node> nodes, AgentClient client, int parallelism, Call<T> call)
            throws InterruptedException {
        return ask(nodes, client, parallelism, Duration.ofSeconds(AgentClient.QUERY_DEADLINE_SECONDS), call);
    }

    /** As {@link #ask(List, AgentClient, int, Call)}, each call with {@code deadline}. */
    public static <T> List<Answer<T>> ask(List<Node> nodes, AgentClient client, int parallelism, Duration deadline,
            Call<T> call) throws InterruptedException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallelism, nodes.size())));
        try {
            List<Future<Answer<T>>> fs = new ArrayList<>();
            for (Node n : nodes) {
                fs.add(pool.submit(() -> one(n, client, deadline, call)));
            }
            List<Answer<T>> out = new ArrayList<>();
            for (Future<Answer<T>> f : fs) {
                try {
                    out.add(f.get());
                } catch (ExecutionException e) {
                    throw new IllegalStateException("query crashed", e.getCause());
                }
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static <T> Answer<T> one(Node n, AgentClient client, Duration deadline, Call<T> call) {
        ManagedChannel ch = client.open(n);
        try {
            return new Answer<>(n, call.on(AgentServiceGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)), "", false);
        } catch (StatusRuntimeException e) {
            Status s = e.getStatus();
            String why = Unreachable.why(n, s);
            boolean unreachable = s.getCode() == Status.Code.UNAVAILABLE || s.getCode() == Status.Code.DEADLINE_EXCEEDED;
            return new Answer<>(n, null, n.name() + " (" + n.address() + "): "
                    + (unreachable ? "unreachable: " : s.getCode().name().toLowerCase() + ": ") + why, unreachable);
        } finally {
            AgentClient.close(ch);
        }
    }
}

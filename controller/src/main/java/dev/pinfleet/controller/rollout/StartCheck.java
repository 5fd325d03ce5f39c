package dev.pinfleet.controller.rollout;

import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.StatusRequest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Before a rollout changes any node, every node it is to start on is asked its Status, all at once (bounded) with a
 * per-node deadline: the nodes that do not answer are reported {@code NODE_UNREACHABLE} with their address and the
 * reason, count against the failure budget at once, and are never started on. A node an operator's {@code plan}
 * showed unreachable is thus not found unreachable only when its wave comes, after others already switched.
 */
final class StartCheck {
    /** Agents asked at once, at least (a larger --forks asks more at once). */
    static final int PARALLELISM = 50;
    /**
     * The shortest deadline of the question, in seconds: a first mutual-TLS handshake with a cold agent on a busy
     * machine takes seconds, and a node that answers within the stuck timeout would not have been given up either.
     */
    static final long MIN_DEADLINE_SECONDS = 10;

    private StartCheck() {}

    /**
     * The deadline of one node's question: the stuck timeout (no answer for that long is what gives a node up during
     * its deploy too), within {@link #MIN_DEADLINE_SECONDS} and the deadline of any other query.
     */
    static Duration deadline(Strategy strategy) {
        long s = Math.max(MIN_DEADLINE_SECONDS, Math.min(strategy.stuckTimeout().toSeconds(),
                AgentClient.QUERY_DEADLINE_SECONDS));
        return Duration.ofSeconds(s);
    }

    /** The reports of the nodes among {@code nodes} that cannot be reached now, in node order. */
    static List<NodeReport> unreachable(List<Node> nodes, AgentClient client, Strategy strategy, String app,
            Map<String, Integer> waveOf, Clock clock) throws InterruptedException {
        if (nodes.isEmpty()) {
            return List.of();
        }
        long t0 = clock.millis();
        StatusRequest ask = StatusRequest.newBuilder().setApp(app).build();
        List<FleetQuery.Answer<dev.pinfleet.proto.v1.StatusResponse>> answers = FleetQuery.ask(nodes, client,
                Math.max(PARALLELISM, strategy.forks()), deadline(strategy), (stub, answer) -> stub.status(ask, answer));
        long millis = clock.millis() - t0;
        List<NodeReport> out = new ArrayList<>();
        for (FleetQuery.Answer<?> a : answers) {
            if (a.unreachable()) {
                out.add(NodeReport.newBuilder().setNode(a.node().name()).setAddress(a.node().address())
                        .setOutcome(NodeOutcome.NODE_UNREACHABLE).setWave(waveOf.get(a.node().name()))
                        .setError(a.error() + "; asked before any node changed, so it was not started on")
                        .setMillis(millis).build());
            }
        }
        return out;
    }
}

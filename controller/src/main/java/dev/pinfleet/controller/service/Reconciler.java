package dev.pinfleet.controller.service;

import dev.pinfleet.controller.rollout.AgentClient;
import dev.pinfleet.controller.rollout.FleetQuery;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Resume's first step: the nodes a rollout had started when its controller stopped are asked where they are
 * (agent Status), since their reports went with that controller. A node still busy is asked again until it is done
 * or its node deadline has passed. A node on the rollout's digest is done (OK, reconciled); any other answer ends the
 * node FAILED, naming what it runs and what its last deploy said; no node is deployed again.
 */
public final class Reconciler {
    /** Waits between two questions to a node that is still deploying. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    /** A node that was in flight: when it started, in which wave. */
    record InFlight(Node node, int wave, long startedMs) {}

    /** Wait between two Status questions to a busy node. */
    static final Duration POLL = Duration.ofSeconds(1);

    private final AgentClient client;
    private final Clock clock;
    private final Sleeper sleeper;

    Reconciler(AgentClient client, Clock clock, Sleeper sleeper) {
        this.client = client;
        this.clock = clock;
        this.sleeper = sleeper;
    }

    /** One report per node of {@code inFlight}, in its order. */
    List<NodeReport> reconcile(List<InFlight> inFlight, String app, String digest, long serial, Duration nodeDeadline,
            int parallelism) throws InterruptedException {
        Map<String, NodeReport> out = new LinkedHashMap<>();
        List<InFlight> ask = new ArrayList<>(inFlight);
        while (!ask.isEmpty()) {
            List<FleetQuery.Answer<StatusResponse>> answers = FleetQuery.ask(ask.stream().map(InFlight::node).toList(),
                    client, parallelism, (stub, answer) -> stub.status(StatusRequest.newBuilder().setApp(app).build(), answer));
            List<InFlight> again = new ArrayList<>();
            for (int i = 0; i < ask.size(); i++) {
                InFlight f = ask.get(i);
                FleetQuery.Answer<StatusResponse> a = answers.get(i);
                boolean late = clock.millis() - f.startedMs() > nodeDeadline.toMillis();
                if (a.value() != null && a.value().getBusy() && !late) {
                    again.add(f);
                } else {
                    out.put(f.node().name(), report(f, a, app, digest, serial));
                }
            }
            ask = again;
            if (!ask.isEmpty()) {
                sleeper.sleep(POLL);
            }
        }
        return inFlight.stream().map(f -> out.get(f.node().name())).toList();
    }

    private NodeReport report(InFlight f, FleetQuery.Answer<StatusResponse> a, String app, String digest, long serial) {
        NodeReport.Builder r = NodeReport.newBuilder().setNode(f.node().name()).setAddress(f.node().address())
                .setWave(f.wave()).setStartedUnixMs(f.startedMs()).setMillis(Math.max(0, clock.millis() - f.startedMs()));
        String where = f.node().name() + " (" + f.node().address() + "): ";
        String interrupted = "the controller stopped while this node deployed, ";
        if (a.value() == null) {
            return r.setOutcome(NodeOutcome.NODE_FAILED).setCause(Outcomes.INTERRUPTED).setError(where + interrupted + "and at resume it could not be"
                    + " asked where it is (" + a.error() + "); its state is unknown: see `pinfleet status`, then deploy"
                    + " again with --retry-failed").build();
        }
        AppStatus s = a.value().getAppsList().stream().filter(x -> x.getApp().equals(app)).findFirst()
                .orElse(AppStatus.getDefaultInstance());
        if (s.getManifestDigest().equals(digest)) {
            return r.setOutcome(NodeOutcome.NODE_OK).setReconciled(true).setReport(DeployReport.newBuilder().setApp(app)
                    .setSerial(s.getSerial()).setManifestDigest(digest).setRelease(s.getRelease()).setOutcome(Outcome.OK))
                    .build();
        }
        String busy = a.value().getBusy() ? "it was still deploying at its node deadline, " : "";
        String last = s.getLastOutcome() == Outcome.OUTCOME_UNSPECIFIED ? "" : "; its last deploy: "
                + s.getLastOutcome().name().toLowerCase(Locale.ROOT) + (s.getLastError().isEmpty() ? "" : ": " + s.getLastError());
        return r.setOutcome(NodeOutcome.NODE_FAILED).setCause(Outcomes.INTERRUPTED).setError(where + interrupted + busy + "and at resume it runs "
                + (s.getRelease().isEmpty() ? "no release of " + app : "release " + s.getRelease() + " (serial "
                        + s.getSerial() + ")") + ", not this rollout's (serial " + serial + ")" + last).build();
    }
}

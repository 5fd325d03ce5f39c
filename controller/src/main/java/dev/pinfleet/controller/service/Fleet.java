package dev.pinfleet.controller.service;

import dev.pinfleet.controller.rollout.AgentClient;
import dev.pinfleet.controller.rollout.FleetQuery;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.proto.v1.FleetPlanRequest;
import dev.pinfleet.proto.v1.FleetPlanResponse;
import dev.pinfleet.proto.v1.FleetStatusRequest;
import dev.pinfleet.proto.v1.FleetStatusResponse;
import dev.pinfleet.proto.v1.NodePlan;
import dev.pinfleet.proto.v1.NodeReleaseManifestRequest;
import dev.pinfleet.proto.v1.NodeStatus;
import dev.pinfleet.proto.v1.PlanRequest;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.ReleaseManifestRequest;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import dev.pinfleet.proto.v1.Targets;
import io.grpc.Status;
import java.util.List;

/** Questions the controller puts to many agents at once for an operator: plan, status, a kept release's manifest. */
public final class Fleet {
    /** Agents asked at once when the request does not say. */
    static final int DEFAULT_FORKS = 200;

    private final Agents agents;

    Fleet(Agents agents) {
        this.agents = agents;
    }

    private static int forks(int asked) {
        return asked > 0 ? asked : DEFAULT_FORKS;
    }

    private AgentClient client(Targets t, List<Node> nodes) {
        if (nodes.isEmpty()) {
            throw ControllerException.invalid("no target nodes: the inventory and --limit selected none");
        }
        return agents.client(t, nodes);
    }

    public FleetPlanResponse plan(FleetPlanRequest req) throws InterruptedException {
        List<Node> nodes = Agents.nodes(req.getTargets());
        FleetPlanResponse.Builder out = FleetPlanResponse.newBuilder();
        PlanRequest ask = PlanRequest.newBuilder().setManifest(req.getManifest()).build();
        for (FleetQuery.Answer<PlanResponse> a : FleetQuery.<PlanResponse>ask(nodes, client(req.getTargets(), nodes),
                forks(req.getForks()), (stub, answer) -> stub.plan(ask, answer))) {
            NodePlan.Builder p = NodePlan.newBuilder().setNode(a.node().name()).setError(a.error());
            if (a.value() != null) {
                p.setPlan(a.value());
            }
            out.addNodes(p);
        }
        return out.build();
    }

    public FleetStatusResponse status(FleetStatusRequest req) throws InterruptedException {
        List<Node> nodes = Agents.nodes(req.getTargets());
        FleetStatusResponse.Builder out = FleetStatusResponse.newBuilder();
        StatusRequest ask = StatusRequest.newBuilder().setApp(req.getApp()).setProbeHealth(req.getProbeHealth()).build();
        for (FleetQuery.Answer<StatusResponse> a : FleetQuery.<StatusResponse>ask(nodes,
                client(req.getTargets(), nodes), forks(req.getForks()), (stub, answer) -> stub.status(ask, answer))) {
            NodeStatus.Builder s = NodeStatus.newBuilder().setNode(a.node().name()).setError(a.error());
            if (a.value() != null) {
                s.setStatus(a.value());
            }
            out.addNodes(s);
        }
        return out.build();
    }

    public ReleaseManifestResponse releaseManifest(NodeReleaseManifestRequest req) throws InterruptedException {
        Targets t = req.getTargets();
        List<Node> nodes = Agents.nodes(t).stream().filter(n -> n.name().equals(req.getNode())).toList();
        if (nodes.isEmpty()) {
            throw ControllerException.invalid("node " + req.getNode() + " is not among the targets");
        }
        ReleaseManifestRequest ask = ReleaseManifestRequest.newBuilder().setApp(req.getApp())
                .setRelease(req.getRelease()).build();
        FleetQuery.Answer<ReleaseManifestResponse> a = FleetQuery.<ReleaseManifestResponse>ask(nodes, client(t, nodes), 1,
                (stub, answer) -> stub.releaseManifest(ask, answer)).get(0);
        if (a.value() == null) {
            throw new ControllerException(a.unreachable() ? Status.Code.UNAVAILABLE : Status.Code.FAILED_PRECONDITION,
                    "cannot get release " + req.getRelease() + "'s manifest of app " + req.getApp() + ": " + a.error());
        }
        return a.value();
    }
}

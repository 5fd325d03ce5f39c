package dev.pinfleet.controller.client;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.FleetStatusRequest;
import dev.pinfleet.proto.v1.NodeStatus;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(mixinStandardHelpOptions = true, name = "status", description = {
    "Show per node and app the release, serial, digest, health and last outcome; mark drift.", "",
    "Asks every agent (through the controller) what it runs: per node and app the current release, serial,",
    "manifest digest, health and the last deploy's outcome. Nodes not on the expected digest (--expect, else the",
    "most common one per app) are marked DRIFT. Exit code 1 when a node is unreachable or drifted.", "",
    "Up to 50 nodes get a row per node and app. A larger fleet gets rows only for the nodes that need a look",
    "(unreachable, drifted, unhealthy, last deploy failed or reverted; at most 50), then per app its nodes by",
    "release, health and last deploy; --json holds every node. The controller asks --forks agents at once, each",
    "with its own deadline (30 s): an agent that does not answer is listed UNREACHABLE and holds up no other."})
public final class StatusCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin FleetOptions fleet;

    @Option(names = "--app", description = "Only this app.")
    String app;

    @Option(names = "--expect", paramLabel = "DIGEST", description = "Expected manifest digest (a prefix is enough) instead of the majority.")
    String expect;

    @Option(names = "--probe-health", description = "Run each app's health check now instead of reporting the last result.")
    boolean probe;

    @Option(names = "--forks", defaultValue = "200", description = "Agents asked at once (default: ${DEFAULT-VALUE}).")
    int forks;

    @Mixin ControllerOptions controller;

    @Mixin OutputOptions print;

    private final Clock clock;
    private final CliContext ctx;

    public StatusCommand(Clock clock, Terminal terminal, CliContext ctx) {
        this.clock = clock;
        this.ctx = ctx;
    }

    @Override
    public Integer call() {
        List<Node> nodes = fleet.nodes();
        List<NodeStatus> answers;
        try (Connection conn = Connection.open(controller, fleet.agents, null, ctx, clock)) {
            Calls.noticeInterrupted(conn, 0, spec.commandLine().getErr());
            answers = Calls.call("status", () -> conn.fleetQuestion(nodes.size(), forks).status(FleetStatusRequest.newBuilder()
                    .setTargets(fleet.targets(nodes)).setApp(app == null ? "" : app).setProbeHealth(probe)
                    .setForks(forks).build())).getNodesList();
        }
        Map<String, String> expected = expected(answers);
        StatusTable.Counts counts = new StatusTable(expected, app, print).print(answers);
        print.summary("%d node(s): %d unreachable, %d drifted%s", nodes.size(), counts.unreachable(), counts.drifted(),
                expected.isEmpty() ? "" : "; expected " + describe(expected));
        print.result(o -> {
            JsonArray list = new JsonArray();
            answers.forEach(a -> list.add(ProtoJson.tree(a)));
            o.add("nodes", list);
            JsonObject want = new JsonObject();
            expected.forEach(want::addProperty);
            o.add("expected_digest", want);
            o.addProperty("unreachable", counts.unreachable());
            o.addProperty("drifted", counts.drifted());
        });
        return counts.unreachable() == 0 && counts.drifted() == 0 ? 0 : 1;
    }

    /** Per app: --expect, or the digest most nodes run (ties: the first seen). */
    private Map<String, String> expected(List<NodeStatus> answers) {
        Map<String, Map<String, Integer>> votes = new LinkedHashMap<>();
        for (NodeStatus a : answers) {
            if (a.hasStatus()) {
                for (AppStatus s : a.getStatus().getAppsList()) {
                    votes.computeIfAbsent(s.getApp(), x -> new LinkedHashMap<>()).merge(s.getManifestDigest(), 1, Integer::sum);
                }
            }
        }
        Map<String, String> out = new LinkedHashMap<>();
        votes.forEach((appName, v) -> out.put(appName, expect != null && (app == null || app.equals(appName)) ? expect
                : v.entrySet().stream().max(Map.Entry.comparingByValue()).get().getKey()));
        if (expect != null && app != null) {
            out.put(app, expect);
        }
        return out;
    }

    private static String describe(Map<String, String> expected) {
        StringBuilder b = new StringBuilder();
        expected.forEach((a, d) -> b.append(b.length() == 0 ? "" : ", ").append(a).append(' ')
                .append(d.isEmpty() ? "(none)" : d.substring(0, Math.min(16, d.length()))));
        return b.toString();
    }
}

package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import com.google.gson.JsonArray;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.FleetPlanRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodePlan;
import dev.pinfleet.proto.v1.PackageChange;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(mixinStandardHelpOptions = true, name = "plan", description = {
    "Show per node what a deploy would fetch, install and remove, without downloading anything.", "",
    "Asks every agent (through the controller) what a deploy of SIGNED_MANIFEST would do, without downloading or",
    "changing anything:",
    "what it would fetch (and how many bytes), install and remove (releases the clean-up would delete), and the",
    "package changes against its current release, printed as a diff per node. Exit code 1 when a node would",
    "refuse the manifest or is unreachable."})
public final class PlanCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "SIGNED_MANIFEST", description = "Envelope from 'pinfleet sign'.")
    Path signed;

    @Mixin FleetOptions fleet;

    @Option(names = "--forks", defaultValue = "200", description = "Agents asked at once (default: ${DEFAULT-VALUE}).")
    int forks;

    @Mixin ControllerOptions controller;

    @Mixin OutputOptions print;

    private final Clock clock;
    private final CliContext ctx;

    public PlanCommand(Clock clock, Terminal terminal, CliContext ctx) {
        this.clock = clock;
        this.ctx = ctx;
    }

    @Override
    public Integer call() throws IOException {
        SignedManifest env = Json.read(signed, SignedManifest.newBuilder()).build();
        Manifest m;
        try {
            m = ManifestCodec.parse(env.getPayload().toByteArray());
        } catch (ManifestException e) {
            throw new CliException(signed + ": " + e.getMessage());
        }
        List<Node> nodes = fleet.nodes();
        List<NodePlan> answers;
        try (Connection conn = Connection.open(controller, fleet.agents, null, ctx, clock)) {
            answers = Calls.call("plan", () -> conn.fleetQuestion(nodes.size(), forks).plan(FleetPlanRequest.newBuilder()
                    .setManifest(env).setTargets(fleet.targets(nodes)).setForks(forks).build())).getNodesList();
        }
        print.line("plan for %s serial %d (%d artifacts) on %d node(s)", m.getApp(), m.getSerial(),
                m.getArtifactsCount(), nodes.size());
        int bad = 0;
        long bytes = 0;
        for (NodePlan a : answers) {
            String name = a.getNode();
            if (!a.hasPlan()) {
                bad++;
                print.line("%n%s: UNREACHABLE: %s", name, a.getError());
                continue;
            }
            PlanResponse p = a.getPlan();
            if (!p.getRefused().isEmpty()) {
                bad++;
                print.line("%n%s: WOULD REFUSE: %s", name, p.getRefused());
                continue;
            }
            bytes += p.getFetchBytes();
            String what = p.getUnchanged() ? "unchanged (release " + p.getRelease() + " is current)"
                    : p.getReleaseOnDisk() ? "switch to release " + p.getRelease() + " already on disk, nothing to fetch"
                    : "fetch " + p.getFetchCount() + " (" + ReportTable.human(p.getFetchBytes()) + "), install "
                            + p.getInstallCount() + " into release " + p.getRelease();
            print.line("%n%s: %s%s", name, what,
                    p.getCurrentRelease().isEmpty() ? " (no current release)" : " (current " + p.getCurrentRelease() + ")");
            for (PackageChange c : p.getChangesList()) {
                if (c.getFromVersion().isEmpty()) {
                    print.line("  + %s %s", c.getName(), c.getToVersion());
                } else if (c.getToVersion().isEmpty()) {
                    print.line("  - %s %s", c.getName(), c.getFromVersion());
                } else {
                    print.line("  ~ %s %s -> %s", c.getName(), c.getFromVersion(), c.getToVersion());
                }
            }
            for (Artifact f : p.getFetchList()) {
                print.line("  fetch   %s (%s)", f.getFilename(), ReportTable.human(f.getSize()));
                print.detail("          sha256 %s from %s", f.getSha256(), f.getPath());
            }
            for (String r : p.getRemoveReleasesList()) {
                print.line("  remove  release %s", r);
            }
        }
        print.summary("%s%d node(s), %s to download in total, %d would refuse or are unreachable",
                print.quiet() ? "" : System.lineSeparator(), nodes.size(), ReportTable.human(bytes), bad);
        long total = bytes;
        int failing = bad;
        print.result(o -> {
            o.addProperty("app", m.getApp());
            o.addProperty("serial", m.getSerial());
            o.addProperty("manifest_digest", ManifestCodec.contentDigest(m));
            o.addProperty("artifacts", m.getArtifactsCount());
            JsonArray list = new JsonArray();
            answers.forEach(a -> list.add(ProtoJson.tree(a)));
            o.add("nodes", list);
            o.addProperty("fetch_bytes", total);
            o.addProperty("refusing_or_unreachable", failing);
        });
        return bad == 0 ? 0 : 1;
    }
}

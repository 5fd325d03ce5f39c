package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.keys.ManifestChecks;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.rollout.Strategy;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.proto.v1.SubmitResponse;
import dev.pinfleet.proto.v1.Targets;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(mixinStandardHelpOptions = true, name = "deploy", description = {
    "Roll a signed manifest out: canary, batches, one failure budget; live progress and a report.", "",
    "Submits a rollout of a signed manifest to the controller (the embedded one on .pinfleet/records.db unless",
    "--controller or PINFLEET_CONTROLLER names a served one), which records it and rolls it out to the inventory's",
    "agents: the canary first, then batches, with one failure budget for the whole fleet (failed, unreachable, stuck",
    "and reverted nodes all count; once it is spent no new node starts, nodes in flight finish and the rest are",
    "reported skipped). One rollout per app and environment at a time: another one is refused naming the active",
    "one, or waits behind it with --queue. Follows the rollout's events: live progress on a terminal, plain lines",
    "otherwise, NDJSON with --json; then prints a summary table (per node: outcome, phase ms, per artifact sha256,",
    "bytes, source, ms; fleet consistency). Ctrl-C or a dropped connection detaches: a served controller goes on",
    "(`pinfleet watch ID` reattaches); the embedded one records the rollout interrupted (`pinfleet resume ID`).",
    "Exit code 0 when every node succeeded, 1 when not, 3 when detached."})
public final class DeployCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "SIGNED_MANIFEST", description = "Envelope from 'pinfleet sign'.")
    Path signed;

    @Mixin FleetOptions fleet;

    @Mixin StrategyOptions strategy;

    @Mixin ViewOptions views;

    @Mixin ControllerOptions controller;

    @Option(names = {"-g", "--group"}, paramLabel = "GROUP", description = "Same as --limit GROUP (kept for scripts).")
    String group;

    @Option(names = {"-m", "--message"}, paramLabel = "TEXT", defaultValue = "",
            description = "Why: kept in the rollout's record, shown by history and show.")
    String message;

    @Option(names = "--queue", description = "Wait behind the active rollout of the same app and environment instead of being refused.")
    boolean queue;

    @Option(names = "--report", paramLabel = "FILE", description = "Also write the final report (JSON) to FILE.")
    Path reportFile;

    @Option(names = "--retry-failed", paramLabel = "REPORT|ID",
            description = "Deploy again only to the nodes that did not succeed in REPORT (a report file) or rollout ID (same manifest).")
    String retryFailed;

    @Option(names = "--trusted", paramLabel = "DIR", description = {
        "The embedded controller checks the signatures against these *.pub keys before any node is contacted;",
        "unsigned, expired and other-environment manifests are refused before any node is contacted either way."})
    Path trusted;

    @Option(names = "--threshold", defaultValue = "1", description = "With --trusted: signatures needed (default: ${DEFAULT-VALUE}).")
    int threshold;

    private final Clock clock;
    private final Terminal terminal;
    private final CliContext ctx;

    public DeployCommand(Clock clock, Terminal terminal, CliContext ctx) {
        this.clock = clock;
        this.terminal = terminal;
        this.ctx = ctx;
    }

    @Override
    public Integer call() throws IOException {
        SignedManifest env = Json.read(signed, SignedManifest.newBuilder()).build();
        if (group != null) {
            fleet.limit = fleet.limit == null ? group : fleet.limit + ",&" + group;
        }
        List<Node> nodes = fleet.nodes();
        Strategy s = strategy.strategy();
        TrustPolicy trust = trusted == null ? null : TrustPolicy.fromDirectory(trusted, threshold);
        // The agents' own checks, here first (no database is opened, no node contacted for a manifest they refuse);
        // the controller makes them again, whoever submits.
        Manifest m = ManifestChecks.admit(signed, env, trust, clock.instant(), ManifestChecks.environments(nodes));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Connection conn = Connection.open(controller, fleet.agents, trust, ctx, clock)) {
            Calls.noticeInterrupted(conn, 0, err);
            String retryOf = "";
            if (retryFailed != null) {
                nodes = retryTargets(conn, ManifestCodec.contentDigest(m), nodes);
                retryOf = retryFailed;
                if (nodes.isEmpty()) {
                    out.println("nothing to retry: every node in " + retryFailed + " succeeded");
                    out.flush();
                    return 0;
                }
            }
            Targets targets = fleet.targets(nodes);
            SubmitRequest req = SubmitRequest.newBuilder().setManifest(env).setTargets(targets)
                    .setStrategy(s.toProto(s.budget(nodes.size()))).setMessage(message).setQueue(queue)
                    .setKind(retryFailed == null ? RolloutKind.ROLLOUT_DEPLOY : RolloutKind.ROLLOUT_RETRY)
                    .setRetryOf(retryOf).build();
            return submitAndFollow(conn, req, m, signed.toString(), reportFile, views, terminal, ctx, out, err, clock);
        }
    }

    /** Submits {@code req}, prints what was submitted, follows it to its end; the exit code. */
    static int submitAndFollow(Connection conn, SubmitRequest req, Manifest m, String what, Path reportFile,
            ViewOptions views, Terminal terminal, CliContext ctx, PrintWriter out, PrintWriter err, Clock clock) {
        SubmitResponse r = Calls.call(what + ": refused by the " + conn.where(), () -> conn.blocking().submit(req));
        long id = r.getRollout().getId();
        int nodes = req.getTargets().getNodesCount();
        if (views.text(terminal)) {
            dev.pinfleet.proto.v1.Strategy s = req.getStrategy();
            out.printf("deploying %s serial %d (%d artifacts, digest %s) to %d node(s): rollout %d by %s on the %s%s%n",
                    m.getApp(), m.getSerial(), m.getArtifactsCount(), r.getRollout().getDigest().substring(0, 16), nodes,
                    id, r.getRollout().getOperator(), conn.where(), req.getRetryOf().isEmpty() ? ""
                            : " (retrying the nodes that did not succeed in " + req.getRetryOf() + ")");
            out.printf("strategy: canary %d, batch %s, max failures %s (%d node(s)), stuck after %d s, %s%n",
                    s.getCanary(), s.getBatch(), s.getMaxFailures(), s.getMaxFailuresNodes(), s.getStuckSeconds(),
                    req.getTargets().getPlaintext() ? "PLAINTEXT (development)" : "mutual TLS");
            if (r.hasQueuedBehind()) {
                out.printf("queued behind rollout %d of %s by %s (%s); it starts when that one ends%n",
                        r.getQueuedBehind().getId(), r.getQueuedBehind().getApp(), r.getQueuedBehind().getOperator(),
                        Outcomes.progress(r.getQueuedBehind()));
            }
            out.flush();
        }
        long bytes = m.getArtifactsList().stream().mapToLong(a -> a.getSize()).sum();
        return Follow.andReport(conn, id, 0, nodes, bytes, views, reportFile, terminal, ctx, out, err, clock);
    }

    /** The nodes that did not succeed in the report file or rollout {@code --retry-failed} names. */
    private List<Node> retryTargets(Connection conn, String digest, List<Node> nodes) {
        FleetReport prev;
        Path file = Path.of(retryFailed);
        if (!Files.exists(file) && retryFailed.matches("[0-9]+")) {
            long id = Long.parseLong(retryFailed);
            prev = Calls.call("--retry-failed " + id, () -> conn.blocking().show(ShowRequest.newBuilder().setRolloutId(id)
                    .build())).getReport();
        } else {
            prev = Json.read(file, FleetReport.newBuilder()).build();
        }
        if (!prev.getManifestDigest().equals(digest)) {
            throw new CliException("--retry-failed " + retryFailed + ": that deploy was of digest "
                    + prev.getManifestDigest() + ", this manifest is " + digest + "; retry with the same manifest");
        }
        Set<String> again = new HashSet<>();
        Set<String> known = new HashSet<>();
        nodes.forEach(n -> known.add(n.name()));
        for (NodeReport n : prev.getNodesList()) {
            if (!Outcomes.isSuccess(n.getOutcome())) {
                if (!known.contains(n.getNode())) {
                    throw new CliException("--retry-failed " + retryFailed + ": node " + n.getNode()
                            + " is not among the inventory's targeted hosts");
                }
                again.add(n.getNode());
            }
        }
        return nodes.stream().filter(n -> again.contains(n.name())).toList();
    }
}

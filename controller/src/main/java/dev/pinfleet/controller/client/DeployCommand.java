package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.keys.ManifestChecks;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(mixinStandardHelpOptions = true, name = "deploy", description = {
    "Roll a signed manifest out: canary, batches, one failure budget; live progress and a report.", "",
    "Rolls a signed manifest out to the inventory's agents: the canary first, then batches, with one failure budget",
    "for the whole fleet (failed, unreachable, stuck and reverted nodes all count; once it is spent no new node",
    "starts, nodes in flight finish and the rest are reported skipped). Live progress on a terminal, plain lines",
    "otherwise, NDJSON with --json. Writes a JSON report (per node: outcome, phase ms, per artifact sha256, bytes,",
    "source, ms; fleet consistency) and prints a summary table. Exit code 1 when any node did not succeed."})
public final class DeployCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "SIGNED_MANIFEST", description = "Envelope from 'pinfleet sign'.")
    Path signed;

    @Mixin FleetOptions fleet;

    @Option(names = {"-g", "--group"}, paramLabel = "GROUP", description = "Same as --limit GROUP (kept for scripts).")
    String group;

    @Option(names = "--report", paramLabel = "FILE", description = "JSON report to write (default: pinfleet-report-DEPLOYID.json).")
    Path reportFile;

    @Option(names = "--canary", defaultValue = "0", paramLabel = "N", description = "Deploy N nodes first, alone (default: ${DEFAULT-VALUE}).")
    int canary;

    @Option(names = "--batch", defaultValue = "100%", paramLabel = "N|P%", description = "Nodes per batch after the canary (default: ${DEFAULT-VALUE}).")
    String batch;

    @Option(names = "--max-failures", defaultValue = "0", paramLabel = "N|P%",
            description = "Failure budget of the whole fleet: stop starting nodes once more than this failed (default: ${DEFAULT-VALUE}).")
    String maxFailures;

    @Option(names = "--pause-after-canary", description = "Ask the operator before going on after the canary (see --yes).")
    boolean pauseAfterCanary;

    @Option(names = {"-y", "--yes"}, description = "Answer yes to the pause after the canary.")
    boolean yes;

    @Option(names = "--forks", defaultValue = "50", description = "Nodes deployed at once (default: ${DEFAULT-VALUE}).")
    int forks;

    @Option(names = "--node-timeout", defaultValue = "600", paramLabel = "SECONDS", description = "Deadline of one node (default: ${DEFAULT-VALUE}).")
    int nodeTimeout;

    @Option(names = "--stuck-timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "A node that sends no event for this long counts as stuck (default: ${DEFAULT-VALUE}).")
    int stuckTimeout;

    @Option(names = "--retry-failed", paramLabel = "REPORT", description = "Deploy again only to the nodes that did not succeed in REPORT (same manifest).")
    Path retryFailed;

    @Option(names = "--trusted", paramLabel = "DIR", description = {
        "Check the signatures against these *.pub keys before pushing. Whether or not it is given, a manifest an",
        "agent would refuse (invalid, expired, or bound to another environment than a node's",
        "pinfleet_agent_environment in the inventory) is refused before any node is contacted."})
    Path trusted;

    @Option(names = "--threshold", defaultValue = "1", description = "With --trusted: signatures needed (default: ${DEFAULT-VALUE}).")
    int threshold;

    @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|tty|plain|json",
            description = "Progress display: tty redraws in place, plain prints lines (default: auto, tty on a terminal).")
    String progress;

    @Option(names = "--json", description = "Newline-delimited JSON events on standard output instead of text.")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "No progress, only the summary.")
    boolean quiet;

    private final Clock clock;
    private final Terminal terminal;

    public DeployCommand(Clock clock, Terminal terminal) {
        this.clock = clock;
        this.terminal = terminal;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        SignedManifest env = Json.read(signed, SignedManifest.newBuilder()).build();
        if (group != null) {
            fleet.limit = fleet.limit == null ? group : fleet.limit + ",&" + group;
        }
        List<Node> nodes = fleet.nodes();
        // the agents' own checks, before any node is contacted
        Manifest m = ManifestChecks.admit(signed, env, trusted == null ? null : TrustPolicy.fromDirectory(trusted, threshold),
                clock.instant(), environments(nodes));
        String digest = ManifestCodec.contentDigest(m);
        PrintWriter out = spec.commandLine().getOut();
        String retryOf = "";
        if (retryFailed != null) {
            nodes = retryTargets(retryFailed, digest, nodes);
            retryOf = retryFailed.toString();
            if (nodes.isEmpty()) {
                out.println("nothing to retry: every node in " + retryFailed + " succeeded");
                out.flush();
                return 0;
            }
        }
        Strategy strategy = new Strategy(canary, batch, maxFailures, pauseAfterCanary, Duration.ofSeconds(nodeTimeout),
                Duration.ofSeconds(stuckTimeout), forks);
        AgentClient client = fleet.client(nodes);
        String deployId = deployId(clock, m.getApp());
        String mode = json ? "json" : progress;
        if (mode.equals("auto")) {
            mode = terminal.interactive() ? "tty" : "plain";
        }
        Rollout.Listener view = switch (mode) {
            case "json" -> new JsonProgress(out, clock);
            case "tty" -> quiet ? new Rollout.Listener() { } : new TerminalProgress(out, clock, terminal.width());
            case "plain" -> quiet ? new Rollout.Listener() { } : new PlainProgress(out, true);
            default -> throw new CliException("--progress must be auto, tty, plain or json, not '" + progress + "'");
        };
        boolean text = !mode.equals("json");
        if (text) {
            out.printf("deploying %s serial %d (%d artifacts, digest %s) to %d node(s), deploy %s%s%n", m.getApp(),
                    m.getSerial(), m.getArtifactsCount(), digest.substring(0, 16), nodes.size(), deployId,
                    retryFailed == null ? "" : " (retrying the nodes that did not succeed in " + retryFailed + ")");
            out.printf("strategy: canary %d, batch %s, max failures %s (%d node(s)), stuck after %d s, %s%n", canary,
                    batch, maxFailures, strategy.budget(nodes.size()), stuckTimeout,
                    client.isTls() ? "mutual TLS" : "PLAINTEXT (development)");
            out.flush();
        }
        FleetReport report = new Rollout(strategy, client, clock).run(deployId, System.getProperty("user.name", "unknown"),
                env, m, digest, nodes, view, (canaryReports, left) -> askToContinue(out, canaryReports, left));
        report = report.toBuilder().setRetryOf(retryOf).setInventory(fleet.inventoryFile().toString())
                .setLimit(fleet.limit()).build();
        Path file = reportFile != null ? reportFile : Path.of("pinfleet-report-" + deployId + ".json");
        Json.write(file, report);
        if (text) {
            out.println();
            ReportTable.print(report, out);
            out.println("report: " + file);
            out.flush();
        }
        return report.getNodesList().stream().allMatch(n -> NodeCall.isSuccess(n.getOutcome())) ? 0 : 1;
    }

    private boolean askToContinue(PrintWriter out, List<NodeReport> canary, int left) {
        if (yes) {
            return true;
        }
        synchronized (out) {
            long ok = canary.stream().filter(r -> NodeCall.isSuccess(r.getOutcome())).count();
            out.printf("%ncanary done: %d of %d ok. Continue with the other %d node(s)? [y/N] ", ok, canary.size(), left);
            out.flush();
        }
        String answer = terminal.readLine();
        boolean go = answer != null && answer.strip().toLowerCase(Locale.ROOT).matches("y|yes");
        if (!go) {
            out.println(answer == null ? "(no answer: end of input)" : "");
            out.flush();
        }
        return go;
    }

    private List<Node> retryTargets(Path reportPath, String digest, List<Node> nodes) {
        FleetReport prev = Json.read(reportPath, FleetReport.newBuilder()).build();
        if (!prev.getManifestDigest().equals(digest)) {
            throw new CliException("--retry-failed " + reportPath + ": that deploy was of digest "
                    + prev.getManifestDigest() + ", this manifest is " + digest + "; retry with the same manifest");
        }
        Set<String> again = new HashSet<>();
        Set<String> known = new HashSet<>();
        nodes.forEach(n -> known.add(n.name()));
        for (NodeReport n : prev.getNodesList()) {
            if (!NodeCall.isSuccess(n.getOutcome())) {
                if (!known.contains(n.getNode())) {
                    throw new CliException("--retry-failed " + reportPath + ": node " + n.getNode()
                            + " is not among the inventory's targeted hosts");
                }
                again.add(n.getNode());
            }
        }
        return nodes.stream().filter(n -> again.contains(n.name())).toList();
    }

    /** "node NAME" → environment, for the nodes whose inventory gives one ({@link Node#ENVIRONMENT_VAR}). */
    static Map<String, String> environments(List<Node> nodes) {
        Map<String, String> out = new TreeMap<>();
        for (Node n : nodes) {
            String e = n.vars().get(Node.ENVIRONMENT_VAR);
            if (e != null) {
                out.put("node " + n.name(), e);
            }
        }
        return out;
    }

    static Manifest parse(Path file, SignedManifest env, Path trusted, int threshold) throws IOException {
        try {
            byte[] payload = trusted != null ? TrustPolicy.fromDirectory(trusted, threshold).verify(env)
                    : env.getPayload().toByteArray();
            return ManifestCodec.parse(payload);
        } catch (ManifestException e) {
            throw new CliException(file + ": " + e.getMessage());
        }
    }

    static String deployId(Clock clock, String app) {
        return DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'", Locale.ROOT)
                .format(Instant.ofEpochMilli(clock.millis()).atOffset(ZoneOffset.UTC)) + "-" + app;
    }
}

package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
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
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "deploy", description = {
    "Push a signed manifest to every agent of the inventory in parallel, print one line per node and",
    "a summary table, and write a JSON report with every node's per-artifact checksums and durations.",
    "Exit code 1 when any node failed or was unreachable."})
public final class DeployCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "SIGNED_MANIFEST", description = "Envelope from 'pinfleet sign'.")
    Path signed;

    @Option(names = {"-i", "--inventory"}, required = true, paramLabel = "FILE", description = "Ansible INI inventory.")
    Path inventory;

    @Option(names = {"-g", "--group"}, defaultValue = "all", description = "Inventory group to deploy to (default: ${DEFAULT-VALUE}).")
    String group;

    @Option(names = "--report", paramLabel = "FILE", description = "JSON report to write (default: pinfleet-report-DEPLOYID.json).")
    Path reportFile;

    @Option(names = "--forks", defaultValue = "50", description = "Nodes deployed at once (default: ${DEFAULT-VALUE}).")
    int forks;

    @Option(names = "--node-timeout", defaultValue = "600", description = "Seconds one node may take (default: ${DEFAULT-VALUE}).")
    int nodeTimeout;

    @Option(names = "--trusted", paramLabel = "DIR", description = "Check the envelope against these *.pub keys before pushing.")
    Path trusted;

    @Option(names = "--threshold", defaultValue = "1", description = "With --trusted: signatures needed (default: ${DEFAULT-VALUE}).")
    int threshold;

    @Option(names = {"-q", "--quiet"}, description = "No per-node progress lines.")
    boolean quiet;

    private final Clock clock;

    public DeployCommand(Clock clock) {
        this.clock = clock;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        SignedManifest env = Json.read(signed, SignedManifest.newBuilder()).build();
        Manifest m;
        try {
            byte[] payload = trusted != null ? TrustPolicy.fromDirectory(trusted, threshold).verify(env)
                    : env.getPayload().toByteArray();
            m = ManifestCodec.parse(payload);
        } catch (ManifestException e) {
            throw new CliException(signed + ": " + e.getMessage());
        }
        List<Node> nodes = Inventory.read(inventory).nodes(group);
        if (nodes.isEmpty()) {
            throw new CliException("inventory " + inventory + " has no hosts in group '" + group + "'");
        }
        String deployId = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'", Locale.ROOT)
                .format(Instant.ofEpochMilli(clock.millis()).atOffset(ZoneOffset.UTC)) + "-" + m.getApp();
        String digest = ManifestCodec.contentDigest(m);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("deploying %s serial %d (%d artifacts, digest %s) to %d node(s), deploy %s%n", m.getApp(),
                m.getSerial(), m.getArtifactsCount(), digest.substring(0, 16), nodes.size(), deployId);
        out.flush();
        FleetDeployer.Listener listener = new FleetDeployer.Listener() {
            @Override
            public void event(Node node, DeployEvent e) {
                if (!quiet && e.hasPhaseStarted()) {
                    synchronized (out) {
                        out.printf("  %-12s %s%n", node.name(), e.getPhaseStarted().name().toLowerCase(Locale.ROOT));
                        out.flush();
                    }
                }
            }

            @Override
            public void finished(NodeReport r) {
                if (!quiet) {
                    synchronized (out) {
                        out.printf("  %-12s %s in %d ms%s%n", r.getNode(), ReportTable.outcome(r.getOutcome()),
                                r.getMillis(), r.getError().isEmpty() ? "" : ": " + r.getError());
                        out.flush();
                    }
                }
            }
        };
        FleetReport report = new FleetDeployer(forks, Duration.ofSeconds(nodeTimeout), clock)
                .deploy(deployId, System.getProperty("user.name", "unknown"), env, m.getApp(), m.getSerial(), digest,
                        nodes, listener);
        Path file = reportFile != null ? reportFile : Path.of("pinfleet-report-" + deployId + ".json");
        Json.write(file, report);
        out.println();
        ReportTable.print(report, out);
        out.println("report: " + file);
        out.flush();
        boolean allOk = report.getNodesList().stream().allMatch(
                n -> n.getOutcome() == NodeOutcome.NODE_OK || n.getOutcome() == NodeOutcome.NODE_UNCHANGED);
        return allOk ? 0 : 1;
    }

    /** Total bytes a node downloaded. */
    static long fetchedBytes(NodeReport n) {
        return n.getReport().getArtifactsList().stream().mapToLong(ArtifactResult::getBytes).sum();
    }
}

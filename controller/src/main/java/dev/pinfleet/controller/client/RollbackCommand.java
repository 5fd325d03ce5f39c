package dev.pinfleet.controller.rollout;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.KeptRelease;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.ReleaseManifestRequest;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.proto.v1.StatusResponse;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(mixinStandardHelpOptions = true, name = "rollback", description = {
    "Put an app back on an earlier release kept by the agents, under a new signed serial.", "",
    "Puts an app back on an earlier release: asks the agents which releases they keep, takes the signed manifest",
    "of the release before the current one (or of --to SERIAL) from an agent that has it, signs a new manifest",
    "(next serial, new expiry) whose content is that release's, and rolls it out like deploy. Nodes that still",
    "hold the release switch without fetching anything; a node that never had it fetches what it needs."})
public final class RollbackCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin FleetOptions fleet;

    @Option(names = "--app", required = true, description = "App to roll back.")
    String app;

    @Option(names = "--to", paramLabel = "SERIAL", description = "Serial of the release to go back to (default: the one before the current).")
    Long to;

    @Option(names = {"-k", "--key"}, required = true, paramLabel = "KEY", description = "Private key to sign the new manifest (repeat for k of n).")
    List<Path> keys = new ArrayList<>();

    @Option(names = "--trusted", paramLabel = "DIR", description = "Check the old release's signatures against these *.pub keys first.")
    Path trusted;

    @Option(names = "--threshold", defaultValue = "1", description = "With --trusted: signatures needed (default: ${DEFAULT-VALUE}).")
    int threshold;

    @Option(names = "--expires-in", defaultValue = "24", paramLabel = "HOURS", description = "Validity of the new manifest (default: ${DEFAULT-VALUE}).")
    int expiresHours;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to keep the new signed manifest (default: rollback-APP-SERIAL.signed.json).")
    Path output;

    @Option(names = "--report", paramLabel = "FILE", description = "JSON report (default: pinfleet-report-DEPLOYID.json).")
    Path reportFile;

    @Option(names = "--canary", defaultValue = "0", paramLabel = "N", description = "As for deploy (default: ${DEFAULT-VALUE}).")
    int canary;

    @Option(names = "--batch", defaultValue = "100%", paramLabel = "N|P%", description = "As for deploy (default: ${DEFAULT-VALUE}).")
    String batch;

    @Option(names = "--max-failures", defaultValue = "0", paramLabel = "N|P%", description = "As for deploy (default: ${DEFAULT-VALUE}).")
    String maxFailures;

    @Option(names = "--forks", defaultValue = "50", description = "Nodes at once (default: ${DEFAULT-VALUE}).")
    int forks;

    @Option(names = "--node-timeout", defaultValue = "600", paramLabel = "SECONDS", description = "As for deploy (default: ${DEFAULT-VALUE}).")
    int nodeTimeout;

    @Option(names = "--stuck-timeout", defaultValue = "120", paramLabel = "SECONDS", description = "As for deploy (default: ${DEFAULT-VALUE}).")
    int stuckTimeout;

    private final Clock clock;
    private final Terminal terminal;

    public RollbackCommand(Clock clock, Terminal terminal) {
        this.clock = clock;
        this.terminal = terminal;
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        List<Node> nodes = fleet.nodes();
        AgentClient client = fleet.client(nodes);
        PrintWriter out = spec.commandLine().getOut();
        List<FleetQuery.Answer<StatusResponse>> status = FleetQuery.ask(nodes, client, forks,
                stub -> stub.status(StatusRequest.newBuilder().setApp(app).build()));
        long maxSerial = 0;
        Map<String, Integer> votes = new LinkedHashMap<>();
        Map<String, Node> holder = new LinkedHashMap<>();
        for (FleetQuery.Answer<StatusResponse> a : status) {
            if (a.value() == null) {
                out.println("warning: " + a.error());
                continue;
            }
            for (AppStatus s : a.value().getAppsList()) {
                maxSerial = Math.max(maxSerial, s.getSerial());
                for (KeptRelease k : s.getKeptList()) {
                    maxSerial = Math.max(maxSerial, k.getSerial());
                    holder.putIfAbsent(k.getRelease(), a.node());
                }
                String target = target(s);
                if (target != null) {
                    votes.merge(target, 1, Integer::sum);
                }
            }
        }
        if (votes.isEmpty()) {
            throw new CliException("rollback of app " + app + ": no reachable node keeps "
                    + (to == null ? "a release before its current one" : "a release of serial " + to)
                    + " (asked " + nodes.size() + " node(s) of " + fleet.inventoryFile() + ")");
        }
        String release = votes.entrySet().stream().max(Map.Entry.comparingByValue()).get().getKey();
        Node from = holder.get(release);
        List<FleetQuery.Answer<ReleaseManifestResponse>> got = FleetQuery.ask(List.of(from), client, 1,
                stub -> stub.releaseManifest(ReleaseManifestRequest.newBuilder().setApp(app).setRelease(release).build()));
        if (got.get(0).value() == null) {
            throw new CliException("rollback of app " + app + ": cannot get release " + release + "'s manifest: "
                    + got.get(0).error());
        }
        SignedManifest old = got.get(0).value().getManifest();
        Manifest content;
        try {
            byte[] payload = trusted != null ? TrustPolicy.fromDirectory(trusted, threshold).verify(old)
                    : old.getPayload().toByteArray();
            content = ManifestCodec.parse(payload);
        } catch (ManifestException e) {
            throw new CliException("rollback of app " + app + ": release " + release + " on " + from.name()
                    + " has a manifest that does not verify: " + e.getMessage());
        }
        long now = clock.millis();
        Manifest fresh = content.toBuilder().setSerial(maxSerial + 1).setCreated(Timestamps.fromMillis(now))
                .setExpires(Timestamps.fromMillis(now + Duration.ofHours(expiresHours).toMillis())).build();
        List<KeyPair> pairs = new ArrayList<>();
        for (Path k : keys) {
            pairs.add(Keys.pairOf(Keys.readPrivate(k)));
        }
        SignedManifest env = Envelope.sign(ManifestCodec.toJson(fresh), pairs);
        Path file = output != null ? output : Path.of("rollback-" + app + "-" + fresh.getSerial() + ".signed.json");
        Json.write(file, env);
        String digest = ManifestCodec.contentDigest(fresh);
        out.printf("rolling %s back to release %s (serial %d, from %s) as serial %d; wrote %s%n", app, release,
                got.get(0).value().getSerial(), from.name(), fresh.getSerial(), file);
        out.flush();
        Strategy strategy = new Strategy(canary, batch, maxFailures, false, Duration.ofSeconds(nodeTimeout),
                Duration.ofSeconds(stuckTimeout), forks);
        String deployId = DeployCommand.deployId(clock, app) + "-rollback";
        Rollout.Listener view = terminal.interactive() ? new TerminalProgress(out, clock, terminal.width())
                : new PlainProgress(out, false);
        FleetReport report = new Rollout(strategy, client, clock).run(deployId, System.getProperty("user.name", "unknown"),
                env, fresh, digest, nodes, view, (c, left) -> true);
        report = report.toBuilder().setInventory(fleet.inventoryFile().toString()).setLimit(fleet.limit()).build();
        Path rf = reportFile != null ? reportFile : Path.of("pinfleet-report-" + deployId + ".json");
        Json.write(rf, report);
        out.println();
        ReportTable.print(report, out);
        out.println("report: " + rf);
        out.flush();
        return report.getNodesList().stream().allMatch(n -> NodeCall.isSuccess(n.getOutcome())) ? 0 : 1;
    }

    /** The release this node would go back to: the kept one of serial --to, else the one before the current. */
    private String target(AppStatus s) {
        if (to != null) {
            for (KeptRelease k : s.getKeptList()) {
                if (k.getSerial() == to) {
                    return k.getRelease();
                }
            }
            return null;
        }
        boolean afterCurrent = false;
        for (KeptRelease k : s.getKeptList()) {
            if (afterCurrent && !k.getRelease().equals(s.getRelease())) {
                return k.getRelease();
            }
            afterCurrent |= k.getCurrent();
        }
        return null;
    }
}

package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Validity;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.controller.rollout.Strategy;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.FleetStatusRequest;
import dev.pinfleet.proto.v1.KeptRelease;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeReleaseManifestRequest;
import dev.pinfleet.proto.v1.NodeStatus;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.proto.v1.Targets;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.KeyPair;
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

@Command(mixinStandardHelpOptions = true, name = "rollback", description = {
    "Put an app back on an earlier release kept by the agents, under a new signed serial.", "",
    "Puts an app back on an earlier release: asks the agents (through the controller) which releases they keep,",
    "takes the signed manifest of the release before the current one (or of --to SERIAL) from an agent that has it,",
    "signs a new manifest (next serial, new expiry) whose content is that release's with your key, and submits it",
    "as a rollback rollout, followed like deploy. Nodes that still hold the release switch without fetching",
    "anything; a node that never had it fetches what it needs."})
public final class RollbackCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Mixin FleetOptions fleet;

    @Mixin StrategyOptions strategy;

    @Mixin ViewOptions views;

    @Mixin ControllerOptions controller;

    @Option(names = "--app", required = true, description = "App to roll back.")
    String app;

    @Option(names = "--to", paramLabel = "SERIAL", description = "Serial of the release to go back to (default: the one before the current).")
    Long to;

    @Mixin ResignOptions signing;

    @Option(names = "--expires-in", defaultValue = "24h", paramLabel = "DURATION",
            description = "Validity of the new manifest: Nd, Nh or Nm, as freeze's (default: ${DEFAULT-VALUE}).")
    String expiresIn;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to keep the new signed manifest (default: rollback-APP-SERIAL.signed.json).")
    Path output;

    @Option(names = "--report", paramLabel = "FILE", description = "Also write the final report (JSON) to FILE.")
    Path reportFile;

    @Option(names = {"-m", "--message"}, paramLabel = "TEXT", defaultValue = "",
            description = "Why: kept in the rollout's record (default: which release it goes back to).")
    String message;

    @Option(names = "--queue", description = "Wait behind the active rollout of the app instead of being refused.")
    boolean queue;

    private final Clock clock;
    private final Terminal terminal;
    private final CliContext ctx;

    public RollbackCommand(Clock clock, Terminal terminal, CliContext ctx) {
        this.clock = clock;
        this.terminal = terminal;
        this.ctx = ctx;
    }

    @Override
    public Integer call() throws IOException {
        List<Node> nodes = fleet.nodes();
        Targets targets = fleet.targets(nodes);
        Strategy s = strategy.strategy();
        TrustPolicy trust = signing.trust();
        List<KeyPair> pairs = signing.pairs();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // With --json, standard output carries only the JSON events; what is said before them goes to stderr.
        PrintWriter info = views.text(terminal) ? out : err;
        try (Connection conn = Connection.open(controller, fleet.agents, trust, ctx, clock)) {
            Calls.noticeInterrupted(conn, 0, err);
            List<NodeStatus> status = Calls.call("rollback of app " + app + ": asking the agents", () -> conn
                    .fleetQuestion(targets.getNodesCount(), strategy.forks).status(FleetStatusRequest.newBuilder()
                            .setTargets(targets).setApp(app).setForks(strategy.forks).build()))
                    .getNodesList();
            long maxSerial = 0;
            Map<String, Integer> votes = new LinkedHashMap<>();
            Map<String, String> holder = new LinkedHashMap<>();
            for (NodeStatus a : status) {
                if (!a.hasStatus()) {
                    info.println("warning: " + a.getError());
                    continue;
                }
                for (AppStatus st : a.getStatus().getAppsList()) {
                    maxSerial = Math.max(maxSerial, st.getSerial());
                    for (KeptRelease k : st.getKeptList()) {
                        maxSerial = Math.max(maxSerial, k.getSerial());
                        holder.putIfAbsent(k.getRelease(), a.getNode());
                    }
                    String target = target(st);
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
            String from = holder.get(release);
            ReleaseManifestResponse got = Calls.call("rollback of app " + app, () -> conn.blocking().releaseManifest(
                    NodeReleaseManifestRequest.newBuilder().setTargets(targets).setNode(from).setApp(app)
                            .setRelease(release).build()));
            SignedManifest old = got.getManifest();
            Manifest content;
            try {
                content = ManifestCodec.parse(trust != null ? trust.verify(old) : old.getPayload().toByteArray());
            } catch (ManifestException e) {
                throw new CliException("rollback of app " + app + ": release " + release + " on " + from
                        + " has a manifest that does not verify: " + e.getMessage());
            }
            // Above what the agents report and what the controller issued or recorded (a manifest frozen since).
            long serial = Math.max(maxSerial + 1, Serials.next(conn, app).getSerial());
            Manifest fresh = ResignOptions.renewed(content, serial, clock.millis(), Validity.parse(expiresIn));
            Path file = output != null ? output : Path.of("rollback-" + app + "-" + fresh.getSerial() + ".signed.json");
            SignedManifest env = ResignOptions.signTo(fresh, pairs, file);
            info.printf("rolling %s back to release %s (serial %d, from %s) as serial %d; wrote %s%n", app, release,
                    got.getSerial(), from, fresh.getSerial(), file);
            info.flush();
            SubmitRequest req = SubmitRequest.newBuilder().setManifest(env).setTargets(targets)
                    .setStrategy(s.toProto(s.budget(nodes.size()))).setQueue(queue).setKind(RolloutKind.ROLLOUT_ROLLBACK)
                    .setMessage(message.isEmpty() ? "rollback to release " + release + " (serial " + got.getSerial() + ")"
                            : message).build();
            return DeployCommand.submitAndFollow(conn, req, fresh, file.toString(), reportFile, views, terminal, ctx, out,
                    err, clock);
        }
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

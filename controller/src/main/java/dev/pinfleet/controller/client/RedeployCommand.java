package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Validity;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.FleetStatusRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NextSerialResponse;
import dev.pinfleet.proto.v1.NodeStatus;
import dev.pinfleet.proto.v1.RolloutKind;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.ShowResponse;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.SubmitRequest;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(mixinStandardHelpOptions = true, name = "redeploy", description = {
    "Roll the content of an earlier rollout out again, re-signed under the next serial.", "",
    "Takes the manifest rollout ID deployed (kept in its record), signs a new manifest with the same content",
    "(artifacts, python, environment, hook, health check) under the next serial (the controller's NextSerial, and",
    "above every serial its targets' agents report for the app), created now and valid for --expires-in (as freeze),",
    "with your key, and rolls it out as a deploy to the same targets with the same strategy, followed like deploy.",
    "This is how to roll forward again after a rollback, or after an agent refused a manifest as 'not greater than",
    "the last applied serial': `pinfleet redeploy ID --key KEY`. Nodes that still hold that release switch to it",
    "without fetching anything. Exit code 0 when every node succeeded, 1 when not, 3 when detached."})
public final class RedeployCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "ID", description = "The rollout whose manifest content to deploy again (see history).")
    long id;

    @Mixin ResignOptions signing;

    @Option(names = "--expires-in", defaultValue = Validity.DEFAULT, paramLabel = "Nd|Nh|Nm",
            description = "Validity of the new manifest from now, as freeze (default: ${DEFAULT-VALUE}).")
    String expiresIn;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to keep the new signed manifest (default: redeploy-APP-SERIAL.signed.json).")
    Path output;

    @Option(names = "--report", paramLabel = "FILE", description = "Also write the final report (JSON) to FILE.")
    Path reportFile;

    @Option(names = {"-m", "--message"}, paramLabel = "TEXT", defaultValue = "",
            description = "Why: kept in the rollout's record (default: which rollout it deploys again).")
    String message;

    @Option(names = "--queue", description = "Wait behind the active rollout of the app instead of being refused.")
    boolean queue;

    @Mixin ViewOptions views;

    @Mixin ControllerOptions controller;

    @Mixin AgentTlsOptions agents;

    private final Clock clock;
    private final Terminal terminal;
    private final CliContext ctx;

    public RedeployCommand(Clock clock, Terminal terminal, CliContext ctx) {
        this.clock = clock;
        this.terminal = terminal;
        this.ctx = ctx;
    }

    @Override
    public Integer call() throws IOException {
        Duration validity = Validity.parse(expiresIn);
        TrustPolicy trust = signing.trust();
        List<KeyPair> pairs = signing.pairs();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Connection conn = Connection.open(controller, agents, trust, ctx, clock)) {
            Calls.noticeInterrupted(conn, 0, err);
            ShowResponse old = Calls.call("redeploy of rollout " + id, () -> conn.blocking().show(ShowRequest.newBuilder()
                    .setRolloutId(id).build()));
            RolloutSummary was = old.getRollout();
            Manifest content;
            try {
                SignedManifest env = old.getManifest();
                content = ManifestCodec.parse(trust != null ? trust.verify(env) : env.getPayload().toByteArray());
            } catch (ManifestException e) {
                throw new CliException("redeploy of rollout " + id + ": its recorded manifest does not verify: "
                        + e.getMessage());
            }
            String app = content.getApp();
            List<NodeStatus> status = Calls.call("redeploy of rollout " + id + ": asking its agents", () -> conn
                    .fleetQuestion(old.getTargets().getNodesCount(), old.getStrategy().getForks())
                    .status(FleetStatusRequest.newBuilder().setTargets(old.getTargets()).setApp(app)
                            .setForks(old.getStrategy().getForks()).build())).getNodesList();
            for (NodeStatus n : status) {
                if (!n.hasStatus()) {
                    out.println("warning: " + n.getError());
                }
            }
            NextSerialResponse next = Serials.next(conn, app);
            long serial = Math.max(next.getSerial(), Serials.highestReported(status, app) + 1);
            Manifest fresh = ResignOptions.renewed(content, serial, clock.millis(), validity);
            Path file = output != null ? output : Path.of("redeploy-" + app + "-" + serial + ".signed.json");
            SignedManifest env = ResignOptions.signTo(fresh, pairs, file);
            out.printf("deploying the content of rollout %d (%s serial %d, digest %s) again as serial %d; wrote %s%n",
                    id, app, was.getSerial(), was.getDigest().substring(0, 16), serial, file);
            out.flush();
            SubmitRequest req = SubmitRequest.newBuilder().setManifest(env).setTargets(old.getTargets())
                    .setStrategy(old.getStrategy()).setQueue(queue).setKind(RolloutKind.ROLLOUT_DEPLOY)
                    .setMessage(message.isEmpty() ? "redeploy of rollout " + id + " (serial " + was.getSerial() + ")"
                            : message).build();
            return DeployCommand.submitAndFollow(conn, req, fresh, file.toString(), reportFile, views, terminal, ctx, out,
                    err, clock);
        }
    }
}

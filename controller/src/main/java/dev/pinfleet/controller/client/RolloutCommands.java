package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.CancelRolloutRequest;
import dev.pinfleet.proto.v1.ResumeRequest;
import dev.pinfleet.proto.v1.RolloutSummary;
import dev.pinfleet.proto.v1.ShowRequest;
import dev.pinfleet.proto.v1.ShowResponse;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pinfleet watch | cancel | resume}: acting on a rollout that exists, and following it to its end. */
public final class RolloutCommands {
    private RolloutCommands() {}

    /** What the three commands share: the rollout id, how to show it, the controller, the report file. */
    abstract static class OnRollout implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "ID", description = "The rollout's id (see history).")
        long id;

        @Mixin ViewOptions views;

        @Mixin ControllerOptions controller;

        @Mixin AgentTlsOptions agents;

        @Option(names = "--report", paramLabel = "FILE", description = "Also write the final report (JSON) to FILE.")
        Path reportFile;

        final Clock clock;
        final Terminal terminal;
        final CliContext ctx;

        OnRollout(Clock clock, Terminal terminal, CliContext ctx) {
            this.clock = clock;
            this.terminal = terminal;
            this.ctx = ctx;
        }

        /** The action (none for watch); the summary after it. */
        abstract RolloutSummary act(Connection conn);

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            try (Connection conn = Connection.open(controller, agents, null, ctx, clock)) {
                ShowResponse before = Calls.call("rollout " + id, () -> conn.blocking().show(ShowRequest.newBuilder()
                        .setRolloutId(id).build()));
                RolloutSummary s = act(conn);
                if (views.text(terminal)) {
                    out.printf("rollout %d of %s serial %d by %s: %s, %s (%s)%n", id, s.getApp(), s.getSerial(),
                            s.getOperator(), Outcomes.key(s.getOutcome()), Outcomes.progress(s), conn.where());
                    out.flush();
                }
                long bytes = 0;
                try {
                    bytes = dev.pinfleet.manifest.ManifestCodec.parse(before.getManifest().getPayload().toByteArray())
                            .getArtifactsList().stream().mapToLong(a -> a.getSize()).sum();
                } catch (dev.pinfleet.manifest.ManifestException e) {
                    bytes = 0; // recorded, so once accepted; the display only loses its byte total
                }
                return Follow.andReport(conn, id, followFrom(before.getRollout()), s.getNodesTotal(), bytes, views,
                        reportFile, terminal, ctx, out, err, clock);
            }
        }

        /** Where following starts: the watcher sees the whole record; the others what their action brings. */
        long followFrom(RolloutSummary before) {
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "watch", description = {
        "Follow a rollout (again): its recorded events, then live ones, to its final report.",
        "Ctrl-C detaches without stopping it. Exit code 0 when it succeeded, 1 when not, 3 when detached."})
    public static final class Watch extends OnRollout {
        public Watch(Clock clock, Terminal terminal, CliContext ctx) {
            super(clock, terminal, ctx);
        }

        @Override
        RolloutSummary act(Connection conn) {
            return Calls.call("rollout " + id, () -> conn.blocking().show(ShowRequest.newBuilder().setRolloutId(id)
                    .setSummaryOnly(true).build())).getRollout();
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "cancel", description = {
        "Cancel a rollout: no new node starts, the deploys in flight are cancelled on their agents (`current` stays",
        "as it was), and it ends CANCELLED; a queued one ends at once. Follows it to its end (--no-wait: at once)."})
    public static final class Cancel extends OnRollout {
        @Option(names = "--no-wait", description = "Return once the cancel is recorded.")
        boolean noWait;

        public Cancel(Clock clock, Terminal terminal, CliContext ctx) {
            super(clock, terminal, ctx);
        }

        @Override
        RolloutSummary act(Connection conn) {
            return Calls.call("cancel " + id, () -> conn.blocking().cancel(CancelRolloutRequest.newBuilder().setRolloutId(id).build()));
        }

        @Override
        public Integer call() {
            if (!noWait) {
                return super.call();
            }
            try (Connection conn = Connection.open(controller, agents, null, ctx, clock)) {
                RolloutSummary s = act(conn);
                spec.commandLine().getOut().printf("rollout %d: %s, %s%n", id, Outcomes.key(s.getOutcome()),
                        Outcomes.progress(s));
                spec.commandLine().getOut().flush();
                return 0;
            }
        }

        @Override
        long followFrom(RolloutSummary before) {
            return before.getLastSeq();
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "resume", description = {
        "Continue a rollout: an interrupted one (its controller stopped) after asking each node it had started where",
        "it is (nodes on the release are done, the failure budget keeps what was spent, the rest proceeds), or a",
        "paused one past its pause. Follows it to its end like deploy."})
    public static final class Resume extends OnRollout {
        public Resume(Clock clock, Terminal terminal, CliContext ctx) {
            super(clock, terminal, ctx);
        }

        @Override
        RolloutSummary act(Connection conn) {
            return Calls.call("resume " + id, () -> conn.blocking().resume(ResumeRequest.newBuilder().setRolloutId(id).build()));
        }

        @Override
        long followFrom(RolloutSummary before) {
            return before.getLastSeq();
        }
    }
}

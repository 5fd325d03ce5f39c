package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fetch.FetchException;
import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * How a deploy that failed ends (before its switch, or in it): the phase, the typed reason (carried by the exception
 * where it arose; {@link #unexpected} for what no step typed) and the error in words, a requested stop naming itself
 * as the cause; `current` stays, the half-built release and early unpacks go, and the failure is recorded in the
 * app's state.
 */
final class Failures {
    private static final Logger LOG = Logger.getLogger(Failures.class.getName());

    private final String node;
    private final Path root;
    private final Path downloads;
    private final StopGate gate;
    private final InstallStep install;

    /** @param downloads where downloads are written (named when writing them failed) */
    Failures(String node, Path root, Path downloads, StopGate gate, InstallStep install) {
        this.node = node;
        this.root = root;
        this.downloads = downloads;
        this.gate = gate;
        this.install = install;
    }

    /** The deploy ended with {@code e}, thrown by a step. */
    void fail(DeployRun run, Exception e) {
        if (e instanceof DeployFailure f) {
            fail(run, f.phase(), f.reason(), f.getMessage());
        } else if (e instanceof FetchException f) {
            // a local failure (disk full, read-only): say where the agent was writing
            fail(run, Phase.FETCH, f.failureReason(), f.getMessage() + (f.kind() == FetchException.Kind.IO
                    ? " (downloads are written to " + downloads + ")" : ""));
        } else if (e instanceof InstallException f) {
            fail(run, Phase.INSTALL, f.reason(), f.getMessage());
        } else if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            fail(run, run.phase(), FailureReason.REASON_ABORTED, "deploy aborted: agent is shutting down");
        } else {
            LOG.log(Level.WARNING, "deploy failed in " + run.phase(), e);
            String why = e.getClass().getSimpleName() + ": " + e.getMessage();
            if (run.baseline() != null && !(e instanceof FileSystemException fse && fse.getFile() != null)) {
                why += " (" + where(run) + ")"; // e.g. a full disk: say where
            }
            fail(run, run.phase(), unexpected(run.phase(), e), why);
        }
    }

    /**
     * Ends the deploy FAILED. The failure is recorded in the app's state from the point the app's state was read on
     * (never when the root is unsafe). A requested stop (shutdown, cancel) names itself as the cause, whatever the
     * failure it caused.
     */
    private void fail(DeployRun run, Phase phase, FailureReason reason, String why) {
        DeployReport.Builder report = run.report();
        StopGate.Stop stop = gate.stopped();
        if (stop != null) {
            gate.quiet(); // the stop's interrupt did its job; the clean-up below needs working I/O
            reason = stop.reason();
            why = stop.why() + " and was stopped in " + phase + "; " + (report.getPreviousRelease().isEmpty()
                    ? "`current` is unchanged" : "release " + report.getPreviousRelease() + " stays current");
        }
        String error = "node " + node + ": " + why;
        report.setOutcome(Outcome.FAILED).setFailedPhase(phase).setReason(reason).setError(error);
        run.reportArtifactsFetched();
        LOG.warning("deploy '" + run.request().getDeployId() + "' refused: " + error);
        VerifyStep.Baseline b = run.baseline();
        try {
            install.discard(b);
            if (b != null && Files.isDirectory(b.layout().dir())) {
                AppState s = StateStore.read(b.layout(), b.verified().app());
                StateStore.write(b.layout(), StateStore.attempt(s.toBuilder(), run.attempt(Outcome.FAILED, reason,
                        error, true)).build());
            }
        } catch (IOException e) {
            LOG.warning("could not record the failure: " + e.getMessage());
        }
    }

    /**
     * The reason of an exception no step typed: a local file system failure of the phase it happened in, or, for
     * an unchecked exception other than an I/O one, a defect.
     */
    static FailureReason unexpected(Phase phase, Exception e) {
        if (e instanceof RuntimeException && !(e instanceof UncheckedIOException)) {
            return FailureReason.REASON_INTERNAL;
        }
        return switch (phase) {
            case VERIFY, PLAN -> FailureReason.REASON_PLAN_LOCAL_IO;
            case FETCH -> FailureReason.REASON_FETCH_LOCAL_IO;
            case INSTALL -> FailureReason.REASON_INSTALL_LOCAL_IO;
            default -> FailureReason.REASON_SWITCH_FAILED;
        };
    }

    /** Where a deploy in its phase writes, for an I/O error that does not say. */
    private String where(DeployRun run) {
        AppLayout layout = run.baseline().layout();
        String release = run.report().getRelease();
        return switch (run.phase()) {
            case FETCH -> "while writing downloads to " + downloads;
            case INSTALL -> "while building release " + release + " in " + layout.staging(release)
                    + " from wheels unpacked into " + root.resolve("cache");
            case SWITCH -> "while recording the state in " + layout.state() + " and switching " + layout.current();
            default -> "under the agent root " + root;
        };
    }
}

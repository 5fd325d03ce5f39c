package dev.pinfleet.controller.client;

import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * Progress as plain lines (not a terminal: logs, CI), each starting with its UTC time: waves, phase changes, each
 * node's end; with {@code artifacts} (-v) also each artifact as the node reports it.
 */
final class PlainProgress implements ProgressView {
    private final PrintWriter out;
    private final Clock clock;
    private final boolean artifacts;

    PlainProgress(PrintWriter out, Clock clock, boolean artifacts) {
        this.out = out;
        this.clock = clock;
        this.artifacts = artifacts;
    }

    @Override
    public void waveStarted(int wave, int waves, List<String> nodes) {
        line((wave == 0 ? "canary" : "batch " + wave + " of " + (waves - 1)) + ": "
                + String.join(" ", nodes));
    }

    @Override
    public void event(String node, DeployEvent e) {
        if (e.hasPhaseStarted()) {
            line(String.format("  %-12s %s", node, e.getPhaseStarted().name().toLowerCase(Locale.ROOT)));
        } else if (artifacts && e.hasArtifact()) {
            ArtifactResult a = e.getArtifact();
            line(String.format("  %-12s   %s %s (%s), %s, fetch %d ms, verify %d ms, install %d ms", node, a.getFilename(),
                    a.getSha256(), ReportTable.human(a.getBytes()), a.getSource().name().toLowerCase(Locale.ROOT),
                    a.getFetchMs(), a.getVerifyMs(), a.getInstallMs()));
        }
    }

    @Override
    public void nodeFinished(NodeReport r) {
        line(String.format("  %-12s %s in %d ms%s", r.getNode(), ReportTable.outcome(r.getOutcome()), r.getMillis(),
                r.getError().isEmpty() ? "" : ": " + r.getError()));
    }

    @Override
    public void note(String text) {
        line(text);
    }

    @Override
    public void stopped(String why) {
        line("stopping: " + why + "; nodes in flight finished, no new node started");
    }

    private void line(String s) {
        synchronized (out) {
            out.println(Instant.ofEpochMilli(clock.millis()) + " " + s);
            out.flush();
        }
    }
}

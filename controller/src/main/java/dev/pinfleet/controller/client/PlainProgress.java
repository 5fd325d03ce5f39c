package dev.pinfleet.controller.client;

import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * Progress as plain lines (not a terminal: logs, CI), each starting with its UTC time: waves, phase changes, each
 * node's end; with {@code artifacts} (-v) also each artifact as the node reports it. For a large fleet (see
 * {@link FleetTally}) only the nodes not ok and a line per wave.
 */
final class PlainProgress implements ProgressView {
    private final PrintWriter out;
    private final boolean phases;
    private final Clock clock;
    private final boolean artifacts;
    private final FleetTally tally = new FleetTally();

    PlainProgress(PrintWriter out, boolean phases, Clock clock, boolean artifacts) {
        this.out = out;
        this.phases = phases;
        this.clock = clock;
        this.artifacts = artifacts;
    }

    @Override
    public void started(int nodes, long bytesPerNode) {
        synchronized (out) {
            tally.started(nodes);
        }
    }

    @Override
    public void waveStarted(int wave, int waves, List<String> nodes) {
        synchronized (out) {
            waveEnded();
            line(tally.waveStarted(wave, waves, nodes, clock.millis()));
        }
    }

    @Override
    public void event(String node, DeployEvent e) {
        if (phases && e.hasPhaseStarted() && tally.listsEveryNode()) {
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
        synchronized (out) {
            if (!tally.ended(r)) {
                return;
            }
        }
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

    @Override
    public void finished(FleetReport report) {
        synchronized (out) {
            waveEnded();
        }
    }

    private void waveEnded() {
        String s = tally.waveEnded(clock.millis());
        if (s != null) {
            line(s);
        }
    }

    private void line(String s) {
        synchronized (out) {
            out.println(Instant.ofEpochMilli(clock.millis()) + " " + s);
            out.flush();
        }
    }
}

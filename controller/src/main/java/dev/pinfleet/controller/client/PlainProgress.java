package dev.pinfleet.controller.client;

import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/** Progress as plain lines (not a terminal: logs, CI): waves, phase changes, each node's end. */
final class PlainProgress implements ProgressView {
    private final PrintWriter out;
    private final boolean phases;

    PlainProgress(PrintWriter out, boolean phases) {
        this.out = out;
        this.phases = phases;
    }

    @Override
    public void waveStarted(int wave, int waves, List<String> nodes) {
        line((wave == 0 ? "canary" : "batch " + wave + " of " + (waves - 1)) + ": "
                + String.join(" ", nodes));
    }

    @Override
    public void event(String node, DeployEvent e) {
        if (phases && e.hasPhaseStarted()) {
            line(String.format("  %-12s %s", node, e.getPhaseStarted().name().toLowerCase(Locale.ROOT)));
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
            out.println(s);
            out.flush();
        }
    }
}

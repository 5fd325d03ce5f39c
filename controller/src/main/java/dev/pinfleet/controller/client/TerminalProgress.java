package dev.pinfleet.controller.client;

import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.Progress;
import dev.pinfleet.proto.v1.Source;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Progress on a terminal: finished nodes scroll by as lines (for a large fleet only those not ok, and a line per
 * wave: see {@link FleetTally}); below them one line per active node (at most {@link #ACTIVE_SHOWN}) and an overall
 * bar (done / failed / left, bytes downloaded, elapsed, ETA), redrawn in place with ANSI escapes, at most every
 * {@link #REDRAW_MILLIS}.
 */
final class TerminalProgress implements ProgressView {
    static final long REDRAW_MILLIS = 100;
    /** Active nodes drawn above the bar; more are summed up in one line. */
    static final int ACTIVE_SHOWN = 20;
    private static final String CLEAR_LINE = "\033[2K";

    private final PrintWriter out;
    private final Clock clock;
    private final int width;
    private final Map<String, String> active = new LinkedHashMap<>();
    private final FleetTally tally = new FleetTally();
    private final List<String> pending = new ArrayList<>();
    private int total;
    private int done;
    private int failed;
    private long bytes;
    private final Map<String, Long> partial = new LinkedHashMap<>();
    private long start;
    private long lastDraw;
    /** Active-node lines above the bar at the last draw; -1 when nothing is drawn. */
    private int drawn = -1;

    TerminalProgress(PrintWriter out, Clock clock, int width, boolean color) {
        this.color = color;
        this.out = out;
        this.clock = clock;
        this.width = Math.max(60, width);
    }

    @Override
    public synchronized void started(int nodes, long bytesPerNode) {
        total = nodes;
        start = clock.millis();
        tally.started(nodes);
    }

    @Override
    public synchronized void waveStarted(int wave, int waves, List<String> nodes) {
        waveEnded();
        pending.add("\033[1m" + tally.waveStarted(wave, waves, nodes, clock.millis()).replaceFirst(": ", "\033[0m: "));
        draw(true);
    }

    @Override
    public synchronized void nodeStarted(String node, int wave) {
        active.put(node, "connecting");
        draw(false);
    }

    @Override
    public synchronized void event(String node, DeployEvent e) {
        if (!active.containsKey(node)) {
            return;
        }
        if (e.hasPhaseStarted()) {
            active.put(node, e.getPhaseStarted().name().toLowerCase(Locale.ROOT));
        } else if (e.hasProgress()) {
            Progress p = e.getProgress();
            String s = p.getPhase().name().toLowerCase(Locale.ROOT) + " " + p.getArtifactsDone() + "/"
                    + p.getArtifactsTotal();
            if (p.getBytesTotal() > 0) {
                s += "  " + ReportTable.human(p.getBytesDone()) + " of " + ReportTable.human(p.getBytesTotal());
                partial.put(node, p.getBytesDone());
            }
            if (!p.getDetail().isEmpty()) {
                s += "  " + p.getDetail();
            }
            active.put(node, s);
        } else if (e.hasArtifact() && e.getArtifact().getSource() == Source.MIRROR) {
            bytes += e.getArtifact().getBytes();
        }
        draw(false);
    }

    @Override
    public synchronized void nodeFinished(NodeReport r) {
        active.remove(r.getNode());
        partial.remove(r.getNode());
        done++;
        boolean good = Outcomes.isSuccess(r.getOutcome());
        if (!good) {
            failed++;
        }
        if (!tally.ended(r)) {
            draw(false);
            return;
        }
        String color = good ? "\033[32m" : "\033[31m";
        pending.add(String.format("  %-12s %s%-11s\033[0m %6d ms  %s", r.getNode(), color,
                ReportTable.outcome(r.getOutcome()), r.getMillis(), good ? r.getReport().getRelease()
                        : clip(r.getError(), width - 40)));
        draw(true);
    }

    @Override
    public synchronized void note(String text) {
        pending.add(text);
        draw(true);
    }

    @Override
    public synchronized void stopped(String why) {
        pending.add("\033[31mstopping: " + why + "\033[0m; nodes in flight finish, no new node starts");
        draw(true);
    }

    @Override
    public synchronized void finished(dev.pinfleet.proto.v1.FleetReport report) {
        waveEnded();
        draw(true);
        // leave the last bar on screen as the record of the run
        out.println();
        out.flush();
        drawn = -1;
    }

    private void waveEnded() {
        String s = tally.waveEnded(clock.millis());
        if (s != null) {
            pending.add(s);
        }
    }

    /** False under NO_COLOR: lines keep their cursor movements, lose their colours and bold. */
    private final boolean color;

    private void draw(boolean force) {
        long now = clock.millis();
        if (!force && now - lastDraw < REDRAW_MILLIS) {
            return;
        }
        lastDraw = now;
        StringBuilder b = new StringBuilder();
        if (drawn > 0) {
            b.append("\033[").append(drawn).append('F');
        } else if (drawn == 0) {
            b.append('\r');
        }
        b.append("\033[J");
        for (String p : pending) {
            b.append(CLEAR_LINE).append(color ? p : p.replaceAll("\033\\[[0-9;]*m", "")).append('\n');
        }
        pending.clear();
        int lines = 0;
        for (Map.Entry<String, String> a : active.entrySet()) {
            if (lines == ACTIVE_SHOWN) {
                b.append(CLEAR_LINE).append("  … and ").append(active.size() - ACTIVE_SHOWN).append(" more in flight\n");
                lines++;
                break;
            }
            b.append(CLEAR_LINE).append(String.format("  %-12s %s", a.getKey(), clip(a.getValue(), width - 16))).append('\n');
            lines++;
        }
        b.append(CLEAR_LINE).append(bar(now));
        out.print(b);
        out.flush();
        drawn = lines; // the bar has no newline: the cursor stays on it, `lines` lines below the block's top
    }

    private String bar(long now) {
        int cells = 24;
        int filled = total == 0 ? cells : cells * done / total;
        long inFlight = partial.values().stream().mapToLong(Long::longValue).sum();
        long elapsed = (now - start) / 1000;
        String eta = done == 0 || done == total ? "--:--" : mmss(elapsed * (total - done) / done);
        return "[" + "#".repeat(filled) + "-".repeat(cells - filled) + "] " + (done - failed) + " done, " + failed
                + " failed, " + (total - done) + " left  " + ReportTable.human(bytes + inFlight) + "  " + mmss(elapsed)
                + " elapsed  ETA " + eta;
    }

    private static String mmss(long s) {
        return String.format("%02d:%02d", s / 60, s % 60);
    }

    private static String clip(String s, int max) {
        return s.length() <= max ? s : s.substring(0, Math.max(0, max - 1)) + "…";
    }
}

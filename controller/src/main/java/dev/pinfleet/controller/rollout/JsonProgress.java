package dev.pinfleet.controller.rollout;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;

/**
 * Newline-delimited JSON, one object per line: {@code {"type":"wave"|"node_started"|"event"|"node_finished"|
 * "stopped"|"report", "at_unix_ms":…, …}}; proto messages in their proto3 JSON form.
 */
final class JsonProgress implements Rollout.Listener {
    private static final JsonFormat.Printer COMPACT = JsonFormat.printer().omittingInsignificantWhitespace();
    private final PrintWriter out;
    private final Clock clock;

    JsonProgress(PrintWriter out, Clock clock) {
        this.out = out;
        this.clock = clock;
    }

    @Override
    public void waveStarted(int wave, int waves, List<Node> nodes) {
        line("wave", "\"wave\":" + wave + ",\"waves\":" + waves + ",\"nodes\":["
                + String.join(",", nodes.stream().map(n -> quote(n.name())).toList()) + "]");
    }

    @Override
    public void nodeStarted(Node node, int wave) {
        line("node_started", "\"node\":" + quote(node.name()) + ",\"wave\":" + wave);
    }

    @Override
    public void event(Node node, DeployEvent e) {
        if (!e.hasReport()) { // the report comes with node_finished
            line("event", "\"node\":" + quote(node.name()) + ",\"event\":" + json(e));
        }
    }

    @Override
    public void nodeFinished(NodeReport r) {
        line("node_finished", "\"node\":" + quote(r.getNode()) + ",\"report\":" + json(r));
    }

    @Override
    public void stopped(String why) {
        line("stopped", "\"reason\":" + quote(why));
    }

    @Override
    public void finished(FleetReport report) {
        line("report", "\"report\":" + json(report));
    }

    private void line(String type, String body) {
        synchronized (out) {
            out.println("{\"type\":\"" + type + "\",\"at_unix_ms\":" + clock.millis() + "," + body + "}");
            out.flush();
        }
    }

    private static String json(Message m) {
        try {
            return COMPACT.print(m);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}

package dev.pinfleet.controller.rollout;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.function.Consumer;

/**
 * Newline-delimited JSON, one object per line: {@code {"type":"wave"|"node_started"|"event"|"node_finished"|
 * "stopped"|"report", "at_unix_ms":…, …}}; proto messages in the project's JSON form ({@link ProtoJson}: proto
 * field names, numbers as numbers), as in the report file.
 */
final class JsonProgress implements Rollout.Listener {
    private final PrintWriter out;
    private final Clock clock;

    JsonProgress(PrintWriter out, Clock clock) {
        this.out = out;
        this.clock = clock;
    }

    @Override
    public void waveStarted(int wave, int waves, List<Node> nodes) {
        line("wave", o -> {
            o.addProperty("wave", wave);
            o.addProperty("waves", waves);
            JsonArray names = new JsonArray();
            nodes.forEach(n -> names.add(n.name()));
            o.add("nodes", names);
        });
    }

    @Override
    public void nodeStarted(Node node, int wave) {
        line("node_started", o -> {
            o.addProperty("node", node.name());
            o.addProperty("wave", wave);
        });
    }

    @Override
    public void event(Node node, DeployEvent e) {
        if (!e.hasReport()) { // the report comes with node_finished
            line("event", o -> {
                o.addProperty("node", node.name());
                o.add("event", ProtoJson.tree(e));
            });
        }
    }

    @Override
    public void nodeFinished(NodeReport r) {
        line("node_finished", o -> {
            o.addProperty("node", r.getNode());
            o.add("report", ProtoJson.tree(r));
        });
    }

    @Override
    public void stopped(String why) {
        line("stopped", o -> o.addProperty("reason", why));
    }

    @Override
    public void finished(FleetReport report) {
        line("report", o -> o.add("report", ProtoJson.tree(report)));
    }

    private void line(String type, Consumer<JsonObject> body) {
        synchronized (out) {
            JsonObject o = new JsonObject();
            o.addProperty("type", type);
            o.addProperty("at_unix_ms", clock.millis());
            body.accept(o);
            out.println(ProtoJson.line(o));
            out.flush();
        }
    }
}

package dev.pinfleet.controller.client;

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
 * "stopped"|"note"|"report", "at_unix_ms":…, …}}; proto messages in the project's JSON form ({@link ProtoJson}: proto
 * field names, numbers as numbers), as in the report file.
 */
final class JsonProgress implements ProgressView {
    private final PrintWriter out;
    private final Clock clock;

    JsonProgress(PrintWriter out, Clock clock) {
        this.out = out;
        this.clock = clock;
    }

    @Override
    public void waveStarted(int wave, int waves, List<String> nodes) {
        line("wave", o -> {
            o.addProperty("wave", wave);
            o.addProperty("waves", waves);
            JsonArray names = new JsonArray();
            nodes.forEach(names::add);
            o.add("nodes", names);
        });
    }

    @Override
    public void nodeStarted(String node, int wave) {
        line("node_started", o -> {
            o.addProperty("node", node);
            o.addProperty("wave", wave);
        });
    }

    @Override
    public void event(String node, DeployEvent e) {
        if (!e.hasReport()) { // the report comes with node_finished
            line("event", o -> {
                o.addProperty("node", node);
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
    public void note(String text) {
        line("note", o -> o.addProperty("text", text));
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

package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.KeptRelease;
import dev.pinfleet.proto.v1.NextSerialRequest;
import dev.pinfleet.proto.v1.NextSerialResponse;
import dev.pinfleet.proto.v1.NodeStatus;
import java.time.Clock;
import java.util.List;

/**
 * Where a new manifest's serial comes from: the controller's NextSerial (one more than every serial it issued,
 * recorded or saw an agent report for the app), so that no laptop clock and no far-future {@code --serial} can
 * leave later manifests behind.
 */
public final class Serials {
    private Serials() {}

    /**
     * The next serial of {@code app} from the controller {@code options} configure ({@code --controller} or
     * {@code PINFLEET_CONTROLLER}), or null when none is configured.
     */
    public static NextSerialResponse fromConfiguredController(ControllerOptions options, CliContext ctx, Clock clock,
            String app) {
        if (options.address(ctx) == null) {
            return null;
        }
        try (Connection conn = Connection.open(options, new AgentTlsOptions(), null, ctx, clock)) {
            return next(conn, app);
        }
    }

    /** The next serial of {@code app} from the controller behind {@code conn}. */
    static NextSerialResponse next(Connection conn, String app) {
        return Calls.call("the next serial of app " + app + " from the " + conn.where(), () -> conn.blocking()
                .nextSerial(NextSerialRequest.newBuilder().setApp(app).build()));
    }

    /** The highest serial the answering nodes report for {@code app}, applied or kept; 0 when none. */
    static long highestReported(List<NodeStatus> nodes, String app) {
        long max = 0;
        for (NodeStatus n : nodes) {
            for (AppStatus a : n.getStatus().getAppsList()) {
                if (!a.getApp().equals(app)) {
                    continue;
                }
                max = Math.max(max, a.getSerial());
                for (KeptRelease k : a.getKeptList()) {
                    max = Math.max(max, k.getSerial());
                }
            }
        }
        return max;
    }
}

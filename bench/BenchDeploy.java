import com.google.gson.JsonObject;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.SignedManifest;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's deploy driver: pushes signed manifests, one after the other, to one agent over plaintext gRPC
 * on loopback, exactly as the controller does, and prints per deploy one JSON line with the wall time of the
 * call (request sent to last event received), the CPU time the agent process used meanwhile (user and system,
 * from /proc; this machine may be shared, and CPU time says more than wall time then) and the agent's
 * DeployReport. Before each deploy it runs {@code sync} and waits until the agent process is idle (no CPU time
 * used for 300 ms, at most 120 s), outside the timing, so that no deploy pays for the write-back or the background
 * clean-up of what came before.
 *
 * <p>Usage: {@code java -cp agent/target/pinfleet-agent.jar:CLASSES BenchDeploy PORT AGENT_PID SIGNED.json...}
 * (compiled by bench/bench.py; not part of the build).
 */
public final class BenchDeploy {
    private BenchDeploy() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: BenchDeploy PORT AGENT_PID SIGNED_MANIFEST.json...");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path stat = Path.of("/proc", args[1], "stat");
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            AgentServiceGrpc.AgentServiceBlockingStub stub = AgentServiceGrpc.newBlockingStub(ch);
            for (int i = 2; i < args.length; i++) {
                SignedManifest.Builder env = ProtoJson.parse(Files.readString(Path.of(args[i]), StandardCharsets.UTF_8),
                        SignedManifest.newBuilder());
                Process sync = new ProcessBuilder("sync").inheritIO().start();
                if (!sync.waitFor(300, TimeUnit.SECONDS)) {
                    sync.destroyForcibly();
                    throw new IllegalStateException("sync did not finish within 300 s");
                }
                awaitIdle(stat);
                long[] cpu0 = cpuMillis(stat);
                long t0 = System.nanoTime();
                Iterator<DeployEvent> it = stub.withDeadlineAfter(600, TimeUnit.SECONDS).deploy(
                        DeployRequest.newBuilder().setManifest(env).setDeployId("bench-" + i).build());
                DeployReport report = null;
                while (it.hasNext()) {
                    DeployEvent e = it.next();
                    if (e.hasReport()) {
                        report = e.getReport();
                    }
                }
                long wallMicros = (System.nanoTime() - t0) / 1000;
                long[] cpu1 = cpuMillis(stat);
                if (report == null) {
                    throw new IllegalStateException("the agent on port " + port + " sent no report for " + args[i]);
                }
                JsonObject line = new JsonObject();
                line.addProperty("manifest", args[i]);
                line.addProperty("wall_us", wallMicros);
                line.addProperty("agent_user_ms", cpu1[0] - cpu0[0]);
                line.addProperty("agent_sys_ms", cpu1[1] - cpu0[1]);
                line.add("report", ProtoJson.tree(report));
                System.out.println(ProtoJson.line(line));
                System.out.flush();
            }
        } finally {
            ch.shutdownNow();
            ch.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    /** Waits until the process used no CPU time for 300 ms (three polls 100 ms apart), at most 120 s. */
    private static void awaitIdle(Path stat) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        long[] last = cpuMillis(stat);
        int quiet = 0;
        while (quiet < 3) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the agent did not become idle within 120 s");
            }
            Thread.sleep(100);
            long[] now = cpuMillis(stat);
            quiet = now[0] == last[0] && now[1] == last[1] ? quiet + 1 : 0;
            last = now;
        }
    }

    /** User and system CPU milliseconds of a process so far (clock ticks of 10 ms, as Linux reports them). */
    private static long[] cpuMillis(Path stat) throws java.io.IOException {
        String s = Files.readString(stat, StandardCharsets.US_ASCII);
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return new long[] {Long.parseLong(f[11]) * 10, Long.parseLong(f[12]) * 10};
    }
}

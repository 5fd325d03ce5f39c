import com.google.protobuf.util.JsonFormat;
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
 * DeployReport. Before each deploy it runs {@code sync}, outside the timing, so that no deploy pays for the
 * write-back of what came before.
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
                SignedManifest.Builder env = SignedManifest.newBuilder();
                JsonFormat.parser().merge(Files.readString(Path.of(args[i]), StandardCharsets.UTF_8), env);
                Process sync = new ProcessBuilder("sync").inheritIO().start();
                if (!sync.waitFor(300, TimeUnit.SECONDS)) {
                    sync.destroyForcibly();
                    throw new IllegalStateException("sync did not finish within 300 s");
                }
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
                System.out.println("{\"manifest\": \"" + args[i].replace("\\", "\\\\").replace("\"", "\\\"")
                        + "\", \"wall_us\": " + wallMicros + ", \"agent_user_ms\": " + (cpu1[0] - cpu0[0])
                        + ", \"agent_sys_ms\": " + (cpu1[1] - cpu0[1]) + ", \"report\": "
                        + JsonFormat.printer().omittingInsignificantWhitespace().print(report) + "}");
                System.out.flush();
            }
        } finally {
            ch.shutdownNow();
            ch.awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    /** User and system CPU milliseconds of a process so far (clock ticks of 10 ms, as Linux reports them). */
    private static long[] cpuMillis(Path stat) throws java.io.IOException {
        String s = Files.readString(stat, StandardCharsets.US_ASCII);
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        return new long[] {Long.parseLong(f[11]) * 10, Long.parseLong(f[12]) * 10};
    }
}

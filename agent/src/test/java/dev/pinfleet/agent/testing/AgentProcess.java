package dev.pinfleet.agent.testing;

import dev.pinfleet.agent.AgentMain;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real agent process: {@code java -cp <test classpath> dev.pinfleet.agent.AgentMain --KEY VALUE …} with its
 * output in a log file, its gRPC and metrics ports read from port files. {@link #terminate} sends SIGTERM
 * (what systemd sends on stop); closing kills the process if it still runs.
 */
public final class AgentProcess implements AutoCloseable {
    /**
     * A bound on a hung start, not a verdict: an agent JVM starts in a second or two, but four at once among twenty
     * on a loaded 2-core box took close to a minute each.
     */
    private static final Duration START_TIMEOUT = Duration.ofSeconds(180);

    private final Process process;
    private final Path log;
    private final int port;
    private final int metricsPort;
    private final List<ManagedChannel> channels = new ArrayList<>();

    private AgentProcess(Process process, Path log, int port, int metricsPort) {
        this.process = process;
        this.log = log;
        this.port = port;
        this.metricsPort = metricsPort;
    }

    /**
     * Starts an agent with {@code config} as flags; its port files and log go to {@code dir}. Waits (at most
     * 180 s) until it listens.
     */
    public static AgentProcess start(Path dir, Map<String, String> config) throws IOException, InterruptedException {
        return start(dir, config, List.of());
    }

    /**
     * Like {@link #start(Path, Map)}, with {@code launcher} put before the java command, e.g.
     * {@code ip netns exec NS} to run the agent inside a network namespace (the launcher must exec, so that the
     * process this class holds is the agent's JVM).
     */
    public static AgentProcess start(Path dir, Map<String, String> config, List<String> launcher)
            throws IOException, InterruptedException {
        return start(dir, config, launcher, List.of());
    }

    /**
     * Like {@link #start(Path, Map, List)}, with {@code jvmOptions} for the agent's JVM (e.g. a small heap where a
     * test starts many agents).
     */
    public static AgentProcess start(Path dir, Map<String, String> config, List<String> launcher,
            List<String> jvmOptions) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path portFile = dir.resolve("agent.port");
        Path metricsPortFile = dir.resolve("metrics.port");
        Path log = dir.resolve("agent.log");
        List<String> cmd = new ArrayList<>(launcher);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AgentMain.class.getName()));
        config.forEach((k, v) -> {
            cmd.add("--" + k);
            cmd.add(v);
        });
        cmd.addAll(List.of("--port-file", portFile.toString(), "--metrics-port-file", metricsPortFile.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("PIP_"));
        pb.environment().put("PIP_CONFIG_FILE", "/dev/null");
        Process p = pb.start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        for (int i = 0; i < 3600 && !Files.exists(portFile); i++) {
            if (!p.isAlive()) {
                throw new IOException("agent process exited with " + p.exitValue() + " before listening; its log:\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("agent process did not listen within " + START_TIMEOUT + "; its log:\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            Thread.sleep(50);
        }
        if (!Files.exists(portFile)) {
            p.destroyForcibly();
            throw new IOException("agent process wrote no port file " + portFile);
        }
        int port = Integer.parseInt(Files.readString(portFile, StandardCharsets.US_ASCII).strip());
        int metricsPort = Integer.parseInt(Files.readString(metricsPortFile, StandardCharsets.US_ASCII).strip());
        return new AgentProcess(p, log, port, metricsPort);
    }

    /** The gRPC port. */
    public int port() {
        return port;
    }

    /** The metrics port, -1 when metrics-listen was empty. */
    public int metricsPort() {
        return metricsPort;
    }

    public Process process() {
        return process;
    }

    /** A plaintext channel to the agent (closed with this). */
    public ManagedChannel channel() {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        channels.add(ch);
        return ch;
    }

    /** Calls Deploy (deadline 120 s) and returns the report that ends the stream, or null when none came. */
    public DeployReport deploy(DeployRequest request) {
        Iterator<DeployEvent> it = AgentServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(120, TimeUnit.SECONDS)
                .deploy(request);
        DeployReport report = null;
        while (it.hasNext()) {
            DeployEvent e = it.next();
            if (e.hasReport()) {
                report = e.getReport();
            }
        }
        return report;
    }

    /** What the process wrote so far. */
    public String log() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /**
     * Sends SIGTERM and waits at most {@code timeout} for the process to exit.
     *
     * @return the exit code
     * @throws IllegalStateException when it still runs after {@code timeout} (it is then killed)
     */
    public int terminate(Duration timeout) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("agent did not exit within " + timeout + " of SIGTERM; its log:\n" + log());
        }
        return process.exitValue();
    }

    @Override
    public void close() {
        channels.forEach(ManagedChannel::shutdownNow);
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

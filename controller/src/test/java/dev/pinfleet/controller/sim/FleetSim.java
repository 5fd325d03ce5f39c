package dev.pinfleet.controller.sim;

import dev.pinfleet.agent.fetch.Sleeper;
import dev.pinfleet.agent.sim.HollowFleet;
import dev.pinfleet.agent.sim.HollowInstall;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fleet simulator (issue 17, "10,000 nodes"): N hollow nodes ({@link HollowFleet}) in this JVM, and one real
 * rollout over them by {@code pinfleet deploy} in a separate JVM (the embedded controller, its records in SQLite),
 * then {@code pinfleet status} of the whole fleet. Measures what the controller needs at that size: wall time, time
 * per wave, its heap after GC (from its GC log), its peak thread count, the events the nodes sent per second, the
 * outcomes, and the answer time of status. Run by {@code bench/fleet-sim.sh} ({@link #main}, prints {@code SIM
 * {json}}); {@code FleetSimTest} runs it small.
 */
public final class FleetSim {
    /**
     * What to simulate; see {@code bench/fleet-sim.sh --help}. {@code launcher}: the {@code ./pinfleet} script, to run
     * the deploy and status as an operator types them (the built jar with its class-data sharing archive, the
     * launcher's JVM options per command); null runs {@link PinfleetCli} from this JVM's class path, as the suite's
     * {@code FleetSimTest} does (there the jar may be stale or not built).
     */
    public record Options(int nodes, String canary, String batch, int forks, String maxFailures, Duration install,
            double failureRate, long seed, int loopbacks, int callThreads, String controllerHeap, Duration maxWall,
            boolean status, int statusRuns, Path launcher) {}

    /** What a run measured. */
    public record Result(int nodes, double startSeconds, double wallSeconds, double rolloutSeconds,
            List<Double> waveSeconds, long heapAfterGcMaxMiB, int controllerThreadsPeak,
            double controllerCpuSeconds, int simThreadsPeak,
            long events, Map<String, Integer> outcomes, List<String> failedNodes, int offRelease, int exitCode,
            List<Double> statusSeconds, List<Double> statusCpuSeconds, int statusExit, List<String> deployOutput, String load, List<String> statusOutput,
            int statusJsonNodes, int statusJsonAnswered) {}

    private static final Pattern GC_AFTER = Pattern.compile("Pause.* (\\d+)M->(\\d+)M\\((\\d+)M\\)");

    private final Options o;
    private final Path dir;

    public FleetSim(Options o, Path dir) {
        this.o = o;
        this.dir = dir;
    }

    public Result run() throws IOException, InterruptedException {
        KeyPair key = Keys.generate();
        Path trusted = Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(trusted.resolve("release.pub"), key.getPublic());
        Path wheel = TestWheels.wheel("simpkg", "1.0").file("simpkg/__init__.py", "X = 1\n").build(
                Files.createDirectories(dir.resolve("wheels")));
        List<Artifact> artifacts = List.of(TestWheels.wheelArtifact(wheel));
        Manifest m = TestFleet.manifest("shop", 1, artifacts).build();
        Path signed = dir.resolve("shop-1.signed.json");
        Json.write(signed, Envelope.sign(ManifestCodec.toJson(m), List.of(key)));
        String release = ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
        Path python = Path.of(TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip());
        HollowInstall install = new HollowInstall(o.install(), o.failureRate(), o.seed(), Sleeper.system());
        try (HollowFleet fleet = new HollowFleet(dir.resolve("nodes"), trusted, python, o.callThreads(), install,
                Clock.systemUTC())) {
            long t0 = System.nanoTime();
            String inv = startNodes(fleet);
            double startSeconds = (System.nanoTime() - t0) / 1e9;
            Path inventory = dir.resolve("hosts.ini");
            Files.writeString(inventory, inv);
            Path report = dir.resolve("report.json");
            Path gcLog = dir.resolve("controller-gc.log");
            Path log = dir.resolve("deploy.log");
            List<String> deploy = new ArrayList<>(List.of("deploy", signed.toString(), "--inventory",
                    inventory.toString(), "--plaintext", "--canary", o.canary(), "--batch", o.batch(), "--forks",
                    Integer.toString(o.forks()), "--max-failures", o.maxFailures(), "--report", report.toString(),
                    "--progress", "plain"));
            String loadBefore = loadAverage();
            long events0 = fleet.eventsSent();
            long w0 = System.nanoTime();
            Process p = controller(List.of(), deploy, gcLog, log);
            int[] peaks = watch(p);
            double wall = (System.nanoTime() - w0) / 1e9;
            long events = fleet.eventsSent() - events0;
            String load = loadBefore + " -> " + loadAverage();
            int code = p.exitValue();
            List<String> output = Files.readAllLines(log, StandardCharsets.UTF_8);
            if (!Files.exists(report)) {
                throw new IOException("pinfleet deploy exited " + code + " without a report; its output:\n"
                        + String.join("\n", output));
            }
            FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
            Map<String, Integer> outcomes = new TreeMap<>();
            List<String> failed = new ArrayList<>();
            int off = 0;
            for (NodeReport n : r.getNodesList()) {
                outcomes.merge(n.getOutcome().name(), 1, Integer::sum);
                if (n.getOutcome() == NodeOutcome.NODE_FAILED) {
                    failed.add(n.getNode());
                }
                boolean on = release.equals(fleet.current(n.getNode(), "shop"));
                if (on != (n.getOutcome() == NodeOutcome.NODE_OK)) {
                    off++; // a node reported OK not on the release, or one on it reported otherwise
                }
            }
            List<Double> statusSeconds = new ArrayList<>();
            List<Double> statusCpu = new ArrayList<>();
            int statusExit = -1;
            List<String> statusOutput = List.of();
            int[] json = {0, 0};
            if (o.status()) {
                List<String> status = List.of("status", "--inventory", inventory.toString(), "--plaintext", "--app",
                        "shop");
                for (int i = 0; i < o.statusRuns() && (i == 0 || statusExit == 0); i++) { // a new JVM each, as typed
                    long s0 = System.nanoTime();
                    Process s = controller(STATUS_JVM, status, dir.resolve("status-gc.log"), dir.resolve("status.log"));
                    int[] sp = watch(s);
                    statusSeconds.add((System.nanoTime() - s0) / 1e9);
                    statusCpu.add(sp[2] / (double) CLOCK_TICKS);
                    statusExit = s.exitValue();
                }
                statusOutput = Files.readAllLines(dir.resolve("status.log"), StandardCharsets.UTF_8);
                json = statusJson(status);
            }
            long rollout = com.google.protobuf.util.Timestamps.toMillis(r.getFinished())
                    - com.google.protobuf.util.Timestamps.toMillis(r.getStarted());
            return new Result(o.nodes(), startSeconds, wall, rollout / 1000.0, waves(r), heapAfterGc(gcLog), peaks[0],
                    peaks[2] / (double) CLOCK_TICKS, peaks[1], events, outcomes, failed, off, code, statusSeconds,
                    statusCpu, statusExit, output, load, statusOutput, json[0], json[1]);
        }
    }

    /** Starts the nodes, a few at once (one per core); the inventory naming them, in order. */
    private String startNodes(HollowFleet fleet) throws IOException, InterruptedException {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(
                Runtime.getRuntime().availableProcessors());
        try {
            List<java.util.concurrent.Future<String>> lines = new ArrayList<>();
            for (int i = 1; i <= o.nodes(); i++) {
                String node = String.format(Locale.ROOT, "sim%05d", i);
                String host = "127.0.0." + (1 + (i - 1) % o.loopbacks());
                lines.add(pool.submit(() -> node + " ansible_host=" + host + " pinfleet_agent_port="
                        + fleet.start(node, host) + "\n"));
            }
            StringBuilder inv = new StringBuilder("[web]\n");
            for (java.util.concurrent.Future<String> l : lines) {
                try {
                    inv.append(l.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IOException("starting a simulated node failed", e.getCause());
                }
            }
            return inv.toString();
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The JVM options the {@code ./pinfleet} launcher gives {@code status} (a command that ends in seconds): the client
     * compiler alone and the serial collector.
     */
    private static final List<String> STATUS_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");

    /**
     * {@code status --json} of the same fleet, untimed: how many nodes it lists, and how many of them answered. The
     * timed run prints text, which for a large fleet lists only the nodes that need a look.
     */
    private int[] statusJson(List<String> status) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(status);
        args.add("--json");
        Path out = dir.resolve("status.json");
        Process p = controller(STATUS_JVM, args, dir.resolve("status-json-gc.log"), out);
        watch(p);
        String text = Files.readString(out, StandardCharsets.UTF_8);
        try { // standard error shares the file: the object is the line that starts with '{'
            String line = text.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElse("");
            com.google.gson.JsonArray nodes = com.google.gson.JsonParser.parseString(line).getAsJsonObject()
                    .getAsJsonArray("nodes");
            int answered = 0;
            for (com.google.gson.JsonElement n : nodes) {
                answered += n.getAsJsonObject().has("status") ? 1 : 0;
            }
            return new int[] {nodes.size(), answered};
        } catch (RuntimeException e) {
            throw new IOException("pinfleet status --json printed no JSON object with nodes: " + e.getMessage()
                    + "; its output:\n" + text.lines().limit(20).collect(java.util.stream.Collectors.joining("\n")));
        }
    }

    /**
     * {@code pinfleet ARGS} as a separate JVM in the work directory, heap capped, GC logged: through the launcher when
     * one is set (which picks its own JVM options per command, as for an operator), else from this JVM's class path
     * with {@code jvm} options (the launcher's for that command).
     */
    private Process controller(List<String> jvm, List<String> args, Path gcLog, Path log) throws IOException {
        List<String> heap = List.of("-Xmx" + o.controllerHeap(), "-Xlog:gc:file=" + gcLog);
        List<String> cmd = new ArrayList<>();
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (o.launcher() != null) {
            cmd.add(o.launcher().toString()); // it execs java: the pid watched is the JVM's
            String own = System.getenv("PINFLEET_JAVA_OPTS"); // an operator's own options, last, as the launcher has them
            pb.environment().put("PINFLEET_JAVA_OPTS", String.join(" ", heap) + (own == null ? "" : " " + own));
        } else {
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(heap);
            cmd.addAll(jvm);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), PinfleetCli.class.getName()));
        }
        cmd.addAll(args);
        return pb.directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Clock ticks per second of /proc/PID/stat's CPU times (USER_HZ, 100 on Linux x86-64). */
    private static final int CLOCK_TICKS = 100;

    /**
     * Waits for {@code p} (at most maxWall), sampling its and this JVM's thread counts and its CPU time: the two
     * peaks, and its CPU time (user + system, clock ticks) at the last sample before it ended (a load-independent
     * measure of its work, where wall time on a shared machine is not).
     */
    private int[] watch(Process p) throws IOException, InterruptedException {
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        threads.resetPeakThreadCount();
        int peak = 0;
        int cpu = 0;
        long deadline = System.nanoTime() + o.maxWall().toNanos();
        while (!p.waitFor(100, TimeUnit.MILLISECONDS)) {
            peak = Math.max(peak, procThreads(p.pid()));
            cpu = Math.max(cpu, procCpuTicks(p.pid()));
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                throw new IOException("pinfleet (pid " + p.pid() + ") did not end within " + o.maxWall().toSeconds()
                        + " s; killed it");
            }
        }
        return new int[] {peak, threads.getPeakThreadCount(), cpu};
    }

    /** Per wave, from its first node's start to its last node's end, in seconds. */
    static List<Double> waves(FleetReport r) {
        Map<Integer, long[]> span = new TreeMap<>();
        for (NodeReport n : r.getNodesList()) {
            if (n.getStartedUnixMs() == 0) {
                continue; // never started (skipped)
            }
            long[] s = span.computeIfAbsent(n.getWave(), b -> new long[] {Long.MAX_VALUE, 0});
            s[0] = Math.min(s[0], n.getStartedUnixMs());
            s[1] = Math.max(s[1], n.getStartedUnixMs() + n.getMillis());
        }
        return span.values().stream().map(s -> (s[1] - s[0]) / 1000.0).toList();
    }

    /** The largest heap occupancy right after a GC pause, in MiB, from a -Xlog:gc file; 0 when it saw no pause. */
    static long heapAfterGc(Path gcLog) throws IOException {
        long max = 0;
        for (String l : Files.readAllLines(gcLog, StandardCharsets.UTF_8)) {
            Matcher mt = GC_AFTER.matcher(l);
            if (mt.find()) {
                max = Math.max(max, Long.parseLong(mt.group(2)));
            }
        }
        return max;
    }

    /** Threads of process {@code pid} now (from /proc), 0 once it has ended; bench/FleetLoad.java uses it too. */
    public static int procThreads(long pid) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (l.startsWith("Threads:")) {
                    return Integer.parseInt(l.substring(8).strip());
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0; // the process just ended
        }
        return 0;
    }

    /** User plus system CPU time of process {@code pid} so far, in clock ticks; 0 once it has ended. */
    static int procCpuTicks(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // fields from the 3rd (state) on
            return Integer.parseInt(f[11]) + Integer.parseInt(f[12]); // utime and stime: fields 14 and 15
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }
}

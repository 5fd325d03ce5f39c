import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.FakeMirror;
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
import dev.pinfleet.wheel.testing.WheelBuilder;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The fleet load run (issue 7, "Load"): N agents, each with its own root and loopback port, in this JVM, a mirror
 * on loopback with small real wheels, and one rollout by the real `pinfleet deploy` as a separate process. Prints
 * the nodes, the batch settings, the wall time, per-node deploy time (median, p95, max; as the controller saw it
 * and as the agents report it), the threads of the agents and of the controller, the controller's exit code, and
 * one machine-readable {@code LOAD {...}} line. Exits with the controller's exit code (1 also when a node is not on
 * the release afterwards, 2 when the rollout outlives --max-seconds).
 *
 * <p>Run by {@code bench/load.sh} (which builds the class path); not part of the build.
 */
public final class FleetLoad {
    private FleetLoad() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> o = new LinkedHashMap<>(Map.of("nodes", "50", "canary", "1", "batch", "25%", "forks", "50",
                "max-failures", "0", "wheels", "10", "files", "20", "max-seconds", "600"));
        String work = null;
        boolean keep = false;
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--keep")) {
                keep = true;
            } else if (a.equals("--work") && i + 1 < argv.length) {
                work = argv[++i];
            } else if (a.startsWith("--") && o.containsKey(a.substring(2)) && i + 1 < argv.length) {
                o.put(a.substring(2), argv[++i]);
            } else {
                System.err.println("usage: FleetLoad [--nodes 50] [--canary 1] [--batch 25%] [--forks 50] [--max-failures 0]"
                        + " [--wheels 10] [--files 20] [--max-seconds 600] [--work DIR] [--keep]; unknown: " + a);
                System.exit(2);
            }
        }
        int nodes = Integer.parseInt(o.get("nodes"));
        long maxSeconds = Long.parseLong(o.get("max-seconds"));
        Path dir = work != null ? Files.createDirectories(Path.of(work)) : Files.createTempDirectory("pinfleet-load-");
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING); // N agents' INFO lines
        String python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        int code;
        try (FakeMirror mirror = FakeMirror.start()) {
            List<Artifact> artifacts = wheels(dir.resolve("wheels"), Integer.parseInt(o.get("wheels")),
                    Integer.parseInt(o.get("files")), mirror);
            long bytes = artifacts.stream().mapToLong(Artifact::getSize).sum();
            int before = threads.getThreadCount();
            try (TestFleet fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri())) {
                StringBuilder inventory = new StringBuilder("[web]\n");
                long t0 = System.nanoTime();
                for (int i = 1; i <= nodes; i++) {
                    Agent a = fleet.start(String.format(Locale.ROOT, "web%02d", i), Map.of("python", python));
                    inventory.append(String.format(Locale.ROOT, "web%02d ansible_host=127.0.0.1 pinfleet_agent_port=%d%n",
                            i, a.port()));
                }
                double startSeconds = (System.nanoTime() - t0) / 1e9;
                int idle = threads.getThreadCount();
                Path inv = dir.resolve("hosts.ini");
                Files.writeString(inv, inventory.toString());
                Manifest m = TestFleet.manifest("shop", 1, artifacts).build();
                Path signed = dir.resolve("shop-1.signed.json");
                Json.write(signed, fleet.sign(m));
                Path report = dir.resolve("report.json");
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", System.getProperty("java.class.path"), PinfleetCli.class.getName(), "deploy", signed.toString(),
                        "--inventory", inv.toString(), "--plaintext", "--canary", o.get("canary"), "--batch", o.get("batch"),
                        "--forks", o.get("forks"), "--max-failures", o.get("max-failures"), "--report", report.toString(),
                        "--progress", "plain"));
                Path log = dir.resolve("deploy.log");
                System.out.printf(Locale.ROOT, "load: %d agents started in %.1f s (this JVM, own roots and loopback ports),"
                        + " %d wheels (%d files each, %d bytes in all) on a loopback mirror%n", nodes, startSeconds,
                        artifacts.size(), Integer.parseInt(o.get("files")), bytes);
                System.out.printf(Locale.ROOT, "load: pinfleet deploy --canary %s --batch %s --forks %s --max-failures %s%n",
                        o.get("canary"), o.get("batch"), o.get("forks"), o.get("max-failures"));
                threads.resetPeakThreadCount();
                long w0 = System.nanoTime();
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                int controllerThreads = 0;
                long deadline = w0 + TimeUnit.SECONDS.toNanos(maxSeconds);
                while (!p.waitFor(50, TimeUnit.MILLISECONDS)) {
                    controllerThreads = Math.max(controllerThreads, dev.pinfleet.controller.sim.FleetSim.procThreads(p.pid()));
                    if (System.nanoTime() > deadline) {
                        p.destroyForcibly();
                        p.waitFor(10, TimeUnit.SECONDS);
                        System.out.println("load: the rollout did not end within --max-seconds " + maxSeconds
                                + "; killed it. Its output:\n" + Files.readString(log, StandardCharsets.UTF_8));
                        System.exit(2);
                    }
                }
                double wall = (System.nanoTime() - w0) / 1e9;
                int peak = threads.getPeakThreadCount();
                code = p.exitValue();
                FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
                String release = ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
                int wrong = 0;
                for (NodeReport n : r.getNodesList()) {
                    String current = fleet.current(n.getNode(), "shop");
                    if (!release.equals(current)) {
                        wrong++;
                        System.out.println("load: " + n.getNode() + " is on " + current + ", not " + release + ": "
                                + n.getError());
                    }
                }
                print(r, nodes, wall, before, idle, peak, controllerThreads, code, log);
                if (code == 0 && wrong > 0) {
                    code = 1;
                }
            }
        } finally {
            if (!keep && work == null) {
                deleteTree(dir);
            }
        }
        System.exit(code);
    }

    private static void print(FleetReport r, int nodes, double wall, int before, int idle, int peak,
            int controllerThreads, int code, Path log) throws IOException {
        List<Long> seen = r.getNodesList().stream().filter(n -> n.getOutcome() == NodeOutcome.NODE_OK)
                .map(NodeReport::getMillis).sorted().toList();
        List<Long> agent = r.getNodesList().stream().filter(n -> n.getOutcome() == NodeOutcome.NODE_OK)
                .map(n -> n.getReport().getTotalMs()).sorted().toList();
        Map<String, Integer> outcomes = new TreeMap<>();
        r.getNodesList().forEach(n -> outcomes.merge(n.getOutcome().name(), 1, Integer::sum));
        long rollout = com.google.protobuf.util.Timestamps.toMillis(r.getFinished())
                - com.google.protobuf.util.Timestamps.toMillis(r.getStarted());
        System.out.println(Files.readString(log, StandardCharsets.UTF_8).lines()
                .filter(l -> l.startsWith("outcomes:") || l.startsWith("strategy:")).reduce((a, b) -> a + "\n" + b)
                .orElse("(no summary in " + log + ")"));
        System.out.printf(Locale.ROOT, "nodes: %d, outcomes %s%n", nodes, outcomes);
        System.out.printf(Locale.ROOT, "wall: %.2f s for `pinfleet deploy` (process start to exit), rollout %.2f s"
                + " (report started..finished)%n", wall, rollout / 1000.0);
        System.out.printf(Locale.ROOT, "per-node deploy, as the controller saw it: median %d ms, p95 %d ms, max %d ms%n",
                pct(seen, 50), pct(seen, 95), pct(seen, 100));
        System.out.printf(Locale.ROOT, "per-node deploy, agent's total_ms:         median %d ms, p95 %d ms, max %d ms%n",
                pct(agent, 50), pct(agent, 95), pct(agent, 100));
        System.out.printf(Locale.ROOT, "agent threads: %d idle for %d agents (%.1f each), peak %d during the rollout"
                + " (JVM of the agents and the mirror: %d before the agents started, peak %d)%n", idle - before, nodes,
                (idle - before) / (double) nodes, peak - before, before, peak);
        System.out.printf(Locale.ROOT, "controller threads: peak %d%n", controllerThreads);
        System.out.printf(Locale.ROOT, "exit code: %d%n", code);
        System.out.printf(Locale.ROOT, "LOAD {\"nodes\":%d,\"canary\":%d,\"batch\":\"%s\",\"max_failures\":\"%s\","
                        + "\"wall_s\":%.3f,\"rollout_s\":%.3f,\"node_ms_p50\":%d,\"node_ms_p95\":%d,\"node_ms_max\":%d,"
                        + "\"agent_total_ms_p50\":%d,\"agent_total_ms_p95\":%d,\"agent_total_ms_max\":%d,"
                        + "\"agent_threads_idle\":%d,\"agent_threads_peak\":%d,\"controller_threads_peak\":%d,"
                        + "\"ok\":%d,\"exit_code\":%d}%n", nodes, r.getStrategy().getCanary(), r.getStrategy().getBatch(),
                r.getStrategy().getMaxFailures(), wall, rollout / 1000.0, pct(seen, 50), pct(seen, 95), pct(seen, 100),
                pct(agent, 50), pct(agent, 95), pct(agent, 100), idle - before, peak - before, controllerThreads,
                seen.size(), code);
    }

    /** Small real wheels: a base library and {@code n - 1} packages that require it, {@code files} modules each. */
    private static List<Artifact> wheels(Path dir, int n, int files, FakeMirror mirror) throws IOException {
        Files.createDirectories(dir);
        List<Artifact> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String name = i == 0 ? "loadbase" : "loadpkg" + i;
            WheelBuilder w = TestWheels.wheel(name, "1.0");
            if (i > 0) {
                w.requires("loadbase==1.0");
            }
            for (int f = 0; f < files; f++) {
                w.file(name + "/m" + f + ".py", "# module " + f + " of " + name + "\nVALUE = " + f + "\n"
                        + "TEXT = '" + "x".repeat(200 + 37 * f) + "'\n");
            }
            w.file(name + "/__init__.py", "NAME = '" + name + "'\n");
            Path wheel = w.build(dir);
            mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
            out.add(TestWheels.wheelArtifact(wheel));
        }
        return out;
    }

    /** The value at percentile {@code p} (nearest rank) of sorted {@code v}; 0 when empty. */
    private static long pct(List<Long> v, int p) {
        if (v.isEmpty()) {
            return 0;
        }
        int rank = (int) Math.ceil(p / 100.0 * v.size());
        return v.get(Math.max(0, Math.min(v.size() - 1, rank - 1)));
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}

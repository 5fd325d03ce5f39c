package dev.pinfleet.controller.sim;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * {@code bench/fleet-sim.sh}: parses the options, runs {@link FleetSim}, prints the deploy's summary lines, the
 * figures, and one {@code SIM {json}} line. Exits with the deploy's exit code, or 1 when a node's `current` does not
 * match its outcome or status did not answer for every node.
 */
public final class FleetSimMain {
    static final String USAGE = "usage: bench/fleet-sim.sh --nodes N [--batch 10%] [--canary 1] [--forks 50]"
            + " [--duration-ms 100] [--failure-rate 0] [--max-failures 0] [--seed 1] [--loopbacks 1]"
            + " [--call-threads 2*forks] [--controller-heap 512m] [--max-seconds 1800] [--no-status] [--status-runs 3]"
            + " [--work DIR] [--keep] [--launcher PATH]";

    private FleetSimMain() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> v = new LinkedHashMap<>(Map.of("nodes", "1000", "batch", "10%", "canary", "1", "forks",
                "50", "duration-ms", "100", "failure-rate", "0", "max-failures", "0", "seed", "1", "loopbacks", "1",
                "controller-heap", "512m"));
        v.put("max-seconds", "1800");
        v.put("call-threads", "");
        v.put("launcher", "");
        v.put("status-runs", "3");
        String work = null;
        boolean keep = false;
        boolean status = true;
        for (int i = 0; i < argv.length; i++) {
            String a = argv[i];
            if (a.equals("--keep")) {
                keep = true;
            } else if (a.equals("--no-status")) {
                status = false;
            } else if (a.equals("--help") || a.equals("-h")) {
                System.out.println(USAGE);
                return;
            } else if (a.equals("--work") && i + 1 < argv.length) {
                work = argv[++i];
            } else if (a.startsWith("--") && v.containsKey(a.substring(2)) && i + 1 < argv.length) {
                v.put(a.substring(2), argv[++i]);
            } else {
                System.err.println(USAGE + "\nunknown or incomplete option: " + a);
                System.exit(2);
            }
        }
        int forks = Integer.parseInt(v.get("forks"));
        FleetSim.Options o = new FleetSim.Options(Integer.parseInt(v.get("nodes")), v.get("canary"), v.get("batch"),
                forks, v.get("max-failures"), Duration.ofMillis(Long.parseLong(v.get("duration-ms"))),
                Double.parseDouble(v.get("failure-rate")), Long.parseLong(v.get("seed")),
                Integer.parseInt(v.get("loopbacks")), v.get("call-threads").isEmpty() ? Math.max(16, 2 * forks)
                        : Integer.parseInt(v.get("call-threads")), v.get("controller-heap"),
                Duration.ofSeconds(Long.parseLong(v.get("max-seconds"))), status,
                Integer.parseInt(v.get("status-runs")),
                v.get("launcher").isEmpty() ? null : Path.of(v.get("launcher")).toAbsolutePath());
        java.util.logging.Logger.getLogger("").setLevel(java.util.logging.Level.WARNING); // N nodes' INFO lines
        Path dir = work != null ? Files.createDirectories(Path.of(work)) : Files.createTempDirectory("pinfleet-sim-");
        FleetSim.Result r;
        try {
            r = new FleetSim(o, dir).run();
        } finally {
            if (!keep && work == null) {
                deleteTree(dir);
            }
        }
        int code = r.exitCode() != 0 ? r.exitCode() : r.offRelease() > 0 || (status && (r.statusExit() != 0
                || r.statusJsonAnswered() != r.nodes())) ? 1 : 0;
        print(o, r, code);
        System.exit(code);
    }

    private static void print(FleetSim.Options o, FleetSim.Result r, int code) {
        List<String> tail = r.deployOutput().subList(Math.max(0, r.deployOutput().size() - 15), r.deployOutput().size());
        System.out.println("pinfleet deploy printed " + r.deployOutput().size() + " lines; the last ones:");
        tail.forEach(l -> System.out.println("  | " + l));
        if (!r.statusOutput().isEmpty()) {
            System.out.println("pinfleet status printed " + r.statusOutput().size() + " lines; the last ones:");
            r.statusOutput().subList(Math.max(0, r.statusOutput().size() - 5), r.statusOutput().size())
                    .forEach(l -> System.out.println("  | " + l));
        }
        double perNodeMs = r.wallSeconds() * 1000 / r.nodes();
        List<Double> waves = r.waveSeconds();
        double median = median(waves);
        System.out.printf(Locale.ROOT, "nodes %d started in %.1f s; deploy wall %.1f s (rollout %.1f s), %.2f ms per"
                        + " node; waves %d, median %.2f s; controller heap after GC max %d MiB (-Xmx%s), threads peak %d,"
                        + " CPU %.1f s (%.2f ms per node);"
                        + " simulator threads peak %d; events %d (%.0f/s); outcomes %s; status median %.1f s of %s, CPU median %.1f s (exit %d, --json: %d of %d"
                        + " node(s) answered); pinfleet run as %s;"
                        + " load average %s%n", r.nodes(), r.startSeconds(), r.wallSeconds(), r.rolloutSeconds(),
                perNodeMs, waves.size(), median, r.heapAfterGcMaxMiB(), o.controllerHeap(), r.controllerThreadsPeak(),
                r.controllerCpuSeconds(), r.controllerCpuSeconds() * 1000 / r.nodes(), r.simThreadsPeak(), r.events(), r.events() / r.wallSeconds(), r.outcomes(), median(r.statusSeconds()),
                list(r.statusSeconds()), median(r.statusCpuSeconds()), r.statusExit(), r.statusJsonAnswered(), r.statusJsonNodes(), cli(o), r.load());
        if (!r.failedNodes().isEmpty()) {
            System.out.println("failed nodes (first 20): " + String.join(" ",
                    r.failedNodes().subList(0, Math.min(20, r.failedNodes().size()))));
        }
        String outcomes = r.outcomes().entrySet().stream().map(e -> "\"" + e.getKey() + "\":" + e.getValue())
                .collect(Collectors.joining(",", "{", "}"));
        String waveList = list(waves);
        System.out.printf(Locale.ROOT, "SIM {\"nodes\":%d,\"canary\":\"%s\",\"batch\":\"%s\",\"forks\":%d,"
                        + "\"duration_ms\":%d,\"failure_rate\":%s,\"max_failures\":\"%s\",\"start_s\":%.2f,"
                        + "\"wall_s\":%.3f,\"rollout_s\":%.3f,\"ms_per_node\":%.3f,\"wave_s\":%s,\"wave_s_median\":%.3f,"
                        + "\"controller_heap_after_gc_max_mib\":%d,\"controller_xmx\":\"%s\","
                        + "\"controller_threads_peak\":%d,\"controller_cpu_s\":%.2f,\"controller_cpu_ms_per_node\":%.3f,"
                        + "\"sim_threads_peak\":%d,\"events\":%d,\"events_per_s\":%.1f,"
                        + "\"outcomes\":%s,\"off_release\":%d,\"deploy_output_lines\":%d,\"status_s\":%.2f,\"status_runs_s\":%s,"
                        + "\"status_cpu_s\":%.2f,"
                        + "\"status_exit\":%d,\"status_output_lines\":%d,\"status_json_nodes\":%d,"
                        + "\"status_json_answered\":%d,\"cli\":\"%s\",\"load\":\"%s\",\"exit_code\":%d}%n", r.nodes(),
                o.canary(), o.batch(),
                o.forks(), o.install().toMillis(), o.failureRate(), o.maxFailures(), r.startSeconds(),
                r.wallSeconds(), r.rolloutSeconds(), perNodeMs, waveList, median, r.heapAfterGcMaxMiB(),
                o.controllerHeap(), r.controllerThreadsPeak(), r.controllerCpuSeconds(),
                r.controllerCpuSeconds() * 1000 / r.nodes(), r.simThreadsPeak(), r.events(),
                r.events() / r.wallSeconds(), outcomes, r.offRelease(), r.deployOutput().size(), median(r.statusSeconds()),
                list(r.statusSeconds()), median(r.statusCpuSeconds()), r.statusExit(), r.statusOutput().size(), r.statusJsonNodes(), r.statusJsonAnswered(), cli(o), r.load(), code);
    }

    /** The middle value (the upper of the two middle ones for an even count); 0 for none. */
    static double median(List<Double> values) {
        return values.isEmpty() ? 0 : values.stream().sorted().toList().get(values.size() / 2);
    }

    private static String list(List<Double> values) {
        return values.stream().map(w -> String.format(Locale.ROOT, "%.3f", w)).collect(Collectors.joining(",", "[", "]"));
    }

    /** How the deploy and status JVMs ran: through the launcher (its jar, CDS archive and options) or the class path. */
    private static String cli(FleetSim.Options o) {
        return o.launcher() == null ? "class-path" : "launcher " + o.launcher();
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}

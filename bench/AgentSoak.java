import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The agent soak run (issue 7, "Soak"): one real agent process gets {@code --deploys} sequential deploys over gRPC,
 * alternating two manifests, each under a new serial, so that after the first two every deploy switches between two
 * releases already on disk. Every {@code --every} deploys it measures the agent's heap after a full GC ({@code jcmd
 * PID GC.run}, then {@code GC.heap_info}), its open file descriptors ({@code /proc/PID/fd}) and threads, and prints
 * the series. After warm-up (the first {@code --warmup} deploys, default 300: the install workers the two cold
 * builds started end after their idle keep-alive, about a minute in) both must be flat: every checkpoint within
 * {@code --tolerance} percent (default 10) of the lowest one after warm-up, for the heap and for the descriptors.
 *
 * <p>Exit code 0 when flat, 1 when either grew (or a deploy failed), 2 when the run outlives --max-seconds.
 * Run by {@code bench/soak.sh} (which builds the class path); not part of the build.
 */
public final class AgentSoak {
    private static final Pattern HEAP_USED = Pattern.compile("heap\\s+total \\d+K, used (\\d+)K");

    private AgentSoak() {}

    record Checkpoint(int deploys, long heapKb, int fds, int threads, long windowMedianMs) {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> o = new LinkedHashMap<>(Map.of("deploys", "1000", "every", "100", "tolerance", "10",
                "max-seconds", "1800", "warmup", "300"));
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
                System.err.println("usage: AgentSoak [--deploys 1000] [--every 100] [--warmup 300] [--tolerance 10]"
                        + " [--max-seconds 1800]"
                        + " [--work DIR] [--keep]; unknown: " + a);
                System.exit(2);
            }
        }
        int deploys = Integer.parseInt(o.get("deploys"));
        int every = Integer.parseInt(o.get("every"));
        double tolerance = Double.parseDouble(o.get("tolerance"));
        long maxSeconds = Long.parseLong(o.get("max-seconds"));
        int warmup = Integer.parseInt(o.get("warmup"));
        if (deploys < warmup + 2 * every) {
            System.err.println("--deploys must be at least --warmup plus twice --every (two checkpoints after warm-up)");
            System.exit(2);
        }
        Path dir = work != null ? Files.createDirectories(Path.of(work)) : Files.createTempDirectory("pinfleet-soak-");
        String python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        int code;
        try (FakeMirror mirror = FakeMirror.start(); TestFleet keys = new TestFleet(dir.resolve("keys"))) {
            Path wheels = Files.createDirectories(dir.resolve("wheels"));
            Artifact core = publish(mirror, TestWheels.wheel("core-lib", "1.0")
                    .file("core_lib/__init__.py", "VALUE = 41\n").build(wheels));
            Artifact a = publish(mirror, TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0")
                    .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 1\n").build(wheels));
            Artifact b = publish(mirror, TestWheels.wheel("mypkg", "2.0").requires("core-lib==1.0")
                    .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 2\n").build(wheels));
            Map<String, String> cfg = new LinkedHashMap<>();
            cfg.put("node", "soak1");
            cfg.put("root", dir.resolve("root").toString());
            cfg.put("listen", "127.0.0.1:0");
            cfg.put("plaintext", "true");
            cfg.put("trusted-keys", keys.trustedKeys().toString());
            cfg.put("mirrors", mirror.baseUri().toString());
            cfg.put("python", python);
            try (AgentProcess agent = AgentProcess.start(dir.resolve("agent"), cfg)) {
                long pid = agent.process().pid();
                ManagedChannel ch = agent.channel();
                System.out.printf(Locale.ROOT, "soak: agent pid %d, %d deploys alternating two manifests (new serial"
                        + " each), checkpoint every %d, tolerance %.0f%%%n", pid, deploys, every, tolerance);
                System.out.printf(Locale.ROOT, "%8s %12s %6s %8s %14s%n", "deploys", "heap_kb", "fds", "threads",
                        "deploy_ms_p50");
                List<Checkpoint> series = new ArrayList<>();
                List<Long> window = new ArrayList<>();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSeconds);
                long t0 = System.nanoTime();
                String failed = null;
                for (int i = 1; i <= deploys && failed == null; i++) {
                    if (System.nanoTime() > deadline) {
                        System.out.println("soak: not done after --max-seconds " + maxSeconds + " (" + (i - 1)
                                + " deploys); stopping");
                        System.exit(2);
                    }
                    Manifest m = TestFleet.manifest("shop", i, List.of(core, i % 2 == 1 ? a : b)).build();
                    long d0 = System.nanoTime();
                    DeployReport r = deploy(ch, keys, m, "soak-" + i);
                    window.add((System.nanoTime() - d0) / 1_000_000);
                    if (r == null || r.getOutcome() != Outcome.OK) {
                        failed = "deploy " + i + " (serial " + i + "): " + (r == null ? "no report" : r.getOutcome()
                                + " " + r.getError());
                    } else if (!r.getRelease().equals(ManifestCodec.releaseId(ManifestCodec.contentDigest(m)))) {
                        failed = "deploy " + i + ": agent reports release " + r.getRelease();
                    }
                    if (i % every == 0) {
                        Checkpoint c = measure(pid, i, window);
                        window.clear();
                        series.add(c);
                        System.out.printf(Locale.ROOT, "%8d %12d %6d %8d %14d%n", c.deploys(), c.heapKb(), c.fds(),
                                c.threads(), c.windowMedianMs());
                    }
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                if (failed != null) {
                    System.out.println("soak: FAILED: " + failed + "\nagent log tail:\n" + tail(agent.log(), 30));
                    code = 1;
                } else {
                    code = verdict(series, warmup, tolerance, deploys, seconds);
                }
            }
        } finally {
            if (!keep && work == null) {
                deleteTree(dir);
            }
        }
        System.exit(code);
    }

    /**
     * Flat means: after warm-up every checkpoint is within {@code tolerance} percent of the lowest one after warm-up,
     * for the heap after a full GC and for the descriptors (a band, so growth and a fall both count). The warm-up
     * checkpoints are printed, not judged: the install workers ({@code pinfleet-install-*}) that only the first two,
     * cold deploys used end after their idle keep-alive, and their buffers go with them (seen: about 2.5 MB).
     */
    private static int verdict(List<Checkpoint> all, int warmup, double tolerance, int deploys, double seconds) {
        List<Checkpoint> s = all.stream().filter(c -> c.deploys() > warmup).toList();
        Checkpoint first = s.get(0);
        Checkpoint last = s.get(s.size() - 1);
        long heapMin = s.stream().mapToLong(Checkpoint::heapKb).min().orElseThrow();
        long heapMax = s.stream().mapToLong(Checkpoint::heapKb).max().orElseThrow();
        int fdsMin = s.stream().mapToInt(Checkpoint::fds).min().orElseThrow();
        int fdsMax = s.stream().mapToInt(Checkpoint::fds).max().orElseThrow();
        double heap = 100.0 * (last.heapKb() - first.heapKb()) / first.heapKb();
        double fds = 100.0 * (last.fds() - first.fds()) / first.fds();
        double heapGrowth = 100.0 * (heapMax - heapMin) / heapMin;
        double fdsGrowth = 100.0 * (fdsMax - fdsMin) / fdsMin;
        boolean flat = heapGrowth <= tolerance && fdsGrowth <= tolerance;
        System.out.printf(Locale.ROOT, "heap after full GC: %d KB at %d deploys -> %d KB at %d (%+.1f%%); growth from"
                + "; band after warm-up (lowest %d KB, highest above it by) %.1f%%%n", first.heapKb(), first.deploys(), last.heapKb(),
                last.deploys(), heap, heapMin, heapGrowth);
        System.out.printf(Locale.ROOT, "open file descriptors: %d -> %d (%+.1f%%); band after warm-up %.1f%%;"
                + " threads %d -> %d%n", first.fds(), last.fds(), fds, fdsGrowth, first.threads(), last.threads());
        System.out.printf(Locale.ROOT, "%d deploys in %.1f s (%.1f ms each, checkpoints included)%n", deploys, seconds,
                1000 * seconds / deploys);
        System.out.println(flat ? "flat: heap and descriptors within " + tolerance + "% after " + warmup + " deploys of warm-up"
                : "NOT FLAT: heap or descriptors moved more than " + tolerance + "% after " + warmup + " deploys of warm-up");
        StringBuilder json = new StringBuilder("SOAK {\"deploys\":" + deploys + ",\"seconds\":"
                + String.format(Locale.ROOT, "%.1f", seconds) + ",\"warmup\":" + warmup + ",\"checkpoints\":["
                + String.join(",", all.stream().map(c -> Integer.toString(c.deploys())).toList()) + "],\"heap_kb\":[");
        json.append(String.join(",", all.stream().map(c -> Long.toString(c.heapKb())).toList())).append("],\"fds\":[");
        json.append(String.join(",", all.stream().map(c -> Integer.toString(c.fds())).toList())).append("],\"threads\":[");
        json.append(String.join(",", all.stream().map(c -> Integer.toString(c.threads())).toList()));
        json.append(String.format(Locale.ROOT, "],\"heap_change_pct\":%.1f,\"heap_band_pct\":%.1f,"
                + "\"fds_change_pct\":%.1f,\"fds_band_pct\":%.1f,\"flat\":%b}", heap, heapGrowth, fds, fdsGrowth, flat));
        System.out.println(json);
        return flat ? 0 : 1;
    }

    private static DeployReport deploy(ManagedChannel ch, TestFleet keys, Manifest m, String id) {
        Iterator<DeployEvent> it = AgentServiceGrpc.newBlockingStub(ch).withDeadlineAfter(120, TimeUnit.SECONDS)
                .deploy(DeployRequest.newBuilder().setManifest(keys.sign(m)).setDeployId(id).build());
        DeployReport report = null;
        while (it.hasNext()) {
            DeployEvent e = it.next();
            if (e.hasReport()) {
                report = e.getReport();
            }
        }
        return report;
    }

    private static Checkpoint measure(long pid, int deploys, List<Long> window) throws IOException, InterruptedException {
        jcmd(pid, "GC.run");
        String info = jcmd(pid, "GC.heap_info");
        Matcher mm = HEAP_USED.matcher(info);
        if (!mm.find()) {
            throw new IllegalStateException("jcmd " + pid + " GC.heap_info: no 'heap total …K, used …K' line in:\n" + info);
        }
        int fds;
        try (Stream<Path> s = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            fds = (int) s.count();
        }
        int threads = 0;
        for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (l.startsWith("Threads:")) {
                threads = Integer.parseInt(l.substring(8).strip());
            }
        }
        List<Long> sorted = window.stream().sorted().toList();
        return new Checkpoint(deploys, Long.parseLong(mm.group(1)), fds, threads, sorted.get(sorted.size() / 2));
    }

    private static String jcmd(long pid, String command) throws IOException, InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        Path out = Files.createTempFile("soak-jcmd-", ".txt");
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            boolean done = p.waitFor(60, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly();
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (!done || p.exitValue() != 0) {
                throw new IllegalStateException("jcmd " + pid + " " + command + (done ? " failed" : " hung for 60 s")
                        + ":\n" + text);
            }
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static Artifact publish(FakeMirror mirror, Path wheel) throws IOException {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    private static String tail(String s, int lines) {
        List<String> l = s.lines().toList();
        return String.join("\n", l.subList(Math.max(0, l.size() - lines), l.size()));
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}

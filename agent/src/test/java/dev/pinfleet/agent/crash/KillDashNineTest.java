package dev.pinfleet.agent.crash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.StatusRequest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import dev.pinfleet.wheel.testing.WheelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a real agent process (a separate JVM) in the middle of a deploy, then a restart on the same root:
 * `current` is the old complete release (or none on a first deploy), no half-built release or partial download
 * is left, the store holds only files whose sha256 is their name, the cache only complete entries, and the same
 * deploy then succeeds.
 */
class KillDashNineTest {
    /** Wheels in the big deploy, and files in each: enough that installing them takes a moment. */
    static final int WHEELS = 20;
    static final int FILES_PER_WHEEL = 100;

    @TempDir static Path wheelsDir;
    static List<Path> bigWheels = new ArrayList<>();

    @TempDir Path dir;
    FakeMirror mirror;
    final KeyPair key = Keys.generate();
    Path trusted;
    Path root;
    int starts;

    @BeforeAll
    static void makeWheels() throws IOException {
        for (int w = 0; w < WHEELS; w++) {
            WheelBuilder wheel = TestWheels.wheel("bulk" + w, "1.0")
                    .file("bulk" + w + "/__init__.py", "N = " + w + "\n");
            for (int f = 0; f < FILES_PER_WHEEL; f++) {
                wheel.file("bulk" + w + "/sub" + (f % 10) + "/m" + f + ".py", "# module " + f + "\n" + "X = 1\n".repeat(200));
            }
            bigWheels.add(wheel.build(wheelsDir));
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        trusted = Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(trusted.resolve("release.pub"), key.getPublic());
        root = dir.resolve("root");
    }

    @AfterEach
    void tearDown() {
        mirror.close();
    }

    private List<Artifact> publishBig(Map<Integer, Reply> scripts) throws IOException {
        List<Artifact> out = new ArrayList<>();
        for (int i = 0; i < bigWheels.size(); i++) {
            Path w = bigWheels.get(i);
            Reply script = scripts.get(i);
            if (script == null) {
                mirror.put(w.getFileName().toString(), Files.readAllBytes(w));
            } else {
                mirror.put(w.getFileName().toString(), Files.readAllBytes(w), script);
            }
            out.add(TestWheels.wheelArtifact(w));
        }
        return out;
    }

    private AgentProcess start() throws Exception {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", "n1");
        cfg.put("root", root.toString());
        cfg.put("listen", "127.0.0.1:0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", trusted.toString());
        cfg.put("mirrors", mirror.baseUri().toString());
        cfg.put("python", "python3");
        cfg.put("shutdown-seconds", "5");
        // a directory per start: the port file of a killed agent must not be taken for the new one's
        return AgentProcess.start(dir.resolve("proc-" + (++starts)), cfg);
    }

    private DeployRequest request(long serial, List<Artifact> artifacts) {
        return request(serial, artifacts, false);
    }

    private DeployRequest request(long serial, List<Artifact> artifacts, boolean compileBytecode) {
        Manifest m = TestFleet.manifest("shop", serial, artifacts).setCompileBytecode(compileBytecode).build();
        return DeployRequest.newBuilder().setDeployId("crash")
                .setManifest(Envelope.sign(ManifestCodec.toJson(m), List.of(key))).build();
    }

    private static String releaseOf(DeployRequest r) throws Exception {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(ManifestCodec.parse(
                r.getManifest().getPayload().toByteArray())));
    }

    /** A deploy whose stream is simply dropped: the process will die under it. */
    private static void deployAndForget(AgentProcess agent, DeployRequest req) {
        AgentServiceGrpc.newStub(agent.channel()).withDeadlineAfter(120, TimeUnit.SECONDS).deploy(req,
                new StreamObserver<>() {
                    @Override
                    public void onNext(DeployEvent e) {
                    }

                    @Override
                    public void onError(Throwable t) {
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
    }

    /** Deploys and returns the report, checking that the stream carried exactly one. */
    private static DeployReport deploy(AgentProcess agent, DeployRequest req) {
        Iterator<DeployEvent> it = AgentServiceGrpc.newBlockingStub(agent.channel())
                .withDeadlineAfter(120, TimeUnit.SECONDS).deploy(req);
        List<DeployReport> reports = new ArrayList<>();
        for (int i = 0; i < 100_000 && it.hasNext(); i++) {
            DeployEvent e = it.next();
            if (e.hasReport()) {
                reports.add(e.getReport());
            }
        }
        assertEquals(1, reports.size(), "exactly one report per deploy");
        return reports.get(0);
    }

    /** The app's status as the restarted agent reports it. */
    private static AppStatus status(AgentProcess agent) {
        return AgentServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance()).getAppsList().stream()
                .filter(a -> a.getApp().equals("shop")).findFirst().orElse(null);
    }

    /** Polls {@code condition} every 2 ms for at most 60 s; fails when it never held. */
    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (int i = 0; i < 30_000 && System.nanoTime() < deadline; i++) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(2);
        }
        throw new AssertionError("never saw within 60 s: " + what);
    }

    private static void killDashNine(AgentProcess agent) throws InterruptedException {
        agent.process().destroyForcibly(); // SIGKILL: no shutdown hook runs
        assertTrue(agent.process().waitFor(30, TimeUnit.SECONDS), "the killed agent did not go away");
    }

    private String current() throws IOException {
        Path link = root.resolve("apps/shop/current");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    private static List<Path> list(Path d) {
        if (!Files.isDirectory(d)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.toList();
        } catch (IOException e) {
            return List.of(); // raced with the agent creating or removing it
        }
    }

    private static long regularFiles(Path d) {
        if (!Files.isDirectory(d)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(d)) {
            return s.filter(Files::isRegularFile).count();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0; // raced with the agent
        }
    }

    /** What every restart must find, whatever the moment of the kill. */
    private void assertCleanAfterRestart() throws IOException {
        CleanRoot.assertNothingHalfWritten(root);
        List<String> staging = list(root.resolve("apps/shop/releases")).stream().map(p -> p.getFileName().toString())
                .filter(n -> n.startsWith(".")).toList();
        assertEquals(List.of(), staging, "half-built releases are removed at start");
        assertEquals(List.of(), list(root.resolve("store/tmp")), "partial downloads are removed at start");
        assertEquals(List.of(), list(root.resolve("cache/wheels/.tmp")), "interrupted unpacks are removed at start");
        try (Stream<Path> files = Files.walk(root.resolve("store/sha256"))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                assertEquals(f.getFileName().toString(), Hashing.sha256Hex(f), "store file " + f + " is not what its name says");
            }
        }
        for (Path prefix : list(root.resolve("cache/wheels"))) {
            for (Path entry : list(prefix)) {
                Path index = entry.resolve("index");
                assertTrue(Files.isRegularFile(index), "cache entry " + entry + " has no index: incomplete");
                for (String line : Files.readAllLines(index, StandardCharsets.UTF_8)) {
                    if (line.startsWith("F\t")) {
                        String[] f = line.split("\t", 5);
                        Path file = entry.resolve("files").resolve(f[4]);
                        assertEquals(Long.parseLong(f[2]), Files.size(file), "cache file " + file + " is incomplete");
                    }
                }
            }
        }
    }

    @Test
    void killedWhileFetchingThenRestartedTheFirstDeploySucceeds() throws Exception {
        // a large wheel stalls half-way, so the fetch phase lasts until the kill
        Path stall = TestWheels.wheel("stall", "1.0").file("stall/__init__.py", "")
                .file("stall/blob.bin", FakeMirror.randomBytes(1 << 20, 7), 0100644).build(dir);
        int half = (int) Files.size(stall) / 2;
        mirror.put(stall.getFileName().toString(), Files.readAllBytes(stall), Reply.stallAfter(half), Reply.ok());
        List<Artifact> artifacts = new ArrayList<>(publishBig(Map.of()));
        artifacts.add(TestWheels.wheelArtifact(stall));
        DeployRequest req = request(1, artifacts);
        Path tmp = root.resolve("store/tmp");
        try (AgentProcess agent = start()) {
            deployAndForget(agent, req);
            await("a partial download and the other wheels verified in the store",
                    () -> list(tmp).stream().anyMatch(p -> p.toFile().length() >= half - (64 << 10))
                            && regularFiles(root.resolve("store/sha256")) >= WHEELS);
            killDashNine(agent);
        }
        try (AgentProcess again = start()) {
            assertNull(current(), "a first deploy killed while fetching leaves no current release");
            assertCleanAfterRestart();
            assertNull(status(again), "nothing recorded for an app whose first deploy never got past fetching");
            DeployReport r = deploy(again, req);
            assertEquals(Outcome.OK, r.getOutcome(), r.getError());
            assertEquals(releaseOf(req), current());
            assertEquals("19", TestWheels.run(List.of(root.resolve("apps/shop/current/bin/python").toString(), "-c",
                    "import bulk19; print(bulk19.N)")).strip());
        }
        assertCleanAfterRestart();
    }

    /**
     * The kill must land while the release is being built, whatever the scheduler does: the new release asks for
     * bytecode, and a {@code .pth} file of one of its wheels (run by the release's interpreter when the agent starts
     * {@code compileall} on the staging directory, the install's last step) waits while {@link #gate} says
     * {@code hold}. The test kills the agent once that interpreter has written its pid, then tells it to
     * {@code abort}, so that nothing of the dead agent's install keeps running; {@code go} lets later interpreters
     * of the release start normally.
     */
    @Test
    void killedWhileInstallingThenRestartedTheOldReleaseIsCurrentAndTheDeploySucceeds() throws Exception {
        Path gate = dir.resolve("install-gate");
        Path held = dir.resolve("install-gate.pid");
        setGate(gate, "hold");
        Path small = TestWheels.wheel("small", "1.0").file("small/__init__.py", "V = 1\n").build(dir);
        mirror.put(small.getFileName().toString(), Files.readAllBytes(small));
        Path gateWheel = TestWheels.wheel("install-gate", "1.0").file("install_gate/__init__.py", "")
                .file("install_gate.pth", gatePth(gate, held)).build(dir);
        mirror.put(gateWheel.getFileName().toString(), Files.readAllBytes(gateWheel));
        // eight of the bulk wheels (800 modules) are enough now that the gate, not their size, holds the install
        List<Artifact> big = new ArrayList<>(publishBig(Map.of()).subList(0, 8));
        big.add(TestWheels.wheelArtifact(gateWheel));
        DeployRequest v1 = request(1, List.of(TestWheels.wheelArtifact(small)));
        DeployRequest v2 = request(2, big, true);
        Path staging = root.resolve("apps/shop/releases/.staging-" + releaseOf(v2));
        try (AgentProcess agent = start()) {
            DeployReport r1 = deploy(agent, v1);
            assertEquals(Outcome.OK, r1.getOutcome(), r1.getError());
            deployAndForget(agent, v2);
            await("the install of the new release held in its bytecode compilation", () -> Files.exists(held));
            assertTrue(Files.isDirectory(staging), "the install is building " + staging);
            killDashNine(agent);
        }
        setGate(gate, "abort");
        long pid = Long.parseLong(Files.readString(held).strip());
        java.util.Optional<ProcessHandle> orphan = ProcessHandle.of(pid);
        if (orphan.isPresent()) {
            orphan.get().onExit().get(30, TimeUnit.SECONDS); // the compileall the dead agent started, told to abort
        }
        setGate(gate, "go");
        assertTrue(Files.isDirectory(staging), "the kill came during the install");
        try (AgentProcess again = start()) {
            assertEquals(releaseOf(v1), current(), "the old, complete release stays current");
            assertCleanAfterRestart();
            AppStatus s = status(again);
            assertEquals(1, s.getSerial(), "serial 2 was not recorded: the install never completed");
            assertEquals(releaseOf(v1), s.getRelease());
            DeployReport r2 = deploy(again, v2);
            assertEquals(Outcome.OK, r2.getOutcome(), r2.getError());
            assertEquals(releaseOf(v2), current());
            assertEquals("7", TestWheels.run(List.of(root.resolve("apps/shop/current/bin/python").toString(), "-c",
                    "import bulk7.sub3.m13, bulk7; print(bulk7.N)")).strip());
        }
        assertCleanAfterRestart();
    }

    /** Writes {@code word} to the gate file in one step (the interpreter reading it never sees half a word). */
    private static void setGate(Path gate, String word) throws IOException {
        Path tmp = gate.resolveSibling(gate.getFileName() + ".tmp");
        Files.writeString(tmp, word);
        Files.move(tmp, gate, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * A {@code .pth} line (site runs lines that start with "import") that, while {@code gate} says hold, writes the
     * interpreter's pid to {@code held} and waits (at most 120 s); on abort it exits at once with status 3.
     */
    private static String gatePth(Path gate, Path held) {
        String code = "g, h = '" + gate + "', '" + held + "'\n"
                + "if open(g).read() == 'hold':\n"
                + "    open(h + '.tmp', 'w').write(str(os.getpid()))\n"
                + "    os.rename(h + '.tmp', h)\n"
                + "    t = time.monotonic() + 120\n"
                + "    while open(g).read() == 'hold' and time.monotonic() < t:\n"
                + "        time.sleep(0.02)\n"
                + "if open(g).read() == 'abort':\n"
                + "    os._exit(3)\n";
        return "import os, time; exec(" + pythonString(code) + ")\n";
    }

    private static String pythonString(String s) {
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'";
    }
}

package dev.pinfleet.controller.threat;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeReport;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A fleet for the fleet threat tests: three tiny wheels (core-lib 1.0, mypkg 1.0 and 2.0), mirrors on loopback
 * that publish them, agents with their own roots and ports (in this JVM or as real processes), an INI inventory,
 * a signing key, and the real CLI (in this JVM or as a real `pinfleet` process). Closes everything it started.
 */
final class ThreatFleet implements AutoCloseable {
    final Path dir;
    final Path wheels;
    final TestFleet fleet;
    final Artifact core;
    final Artifact app1;
    final Artifact app2;
    private final Map<String, String> inventoryLines = new LinkedHashMap<>();
    /** What {@link #close()} closes; agents may be started from several threads at once. */
    private final List<AutoCloseable> open = new java.util.concurrent.CopyOnWriteArrayList<>();

    ThreatFleet(Path dir) throws IOException {
        this.dir = dir;
        wheels = Files.createDirectories(dir.resolve("wheels"));
        fleet = new TestFleet(dir.resolve("fleet"));
        core = TestWheels.wheelArtifact(TestWheels.wheel("core-lib", "1.0")
                .file("core_lib/__init__.py", "VALUE = 41\n").build(wheels));
        app1 = TestWheels.wheelArtifact(TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0")
                .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 1\n").build(wheels));
        app2 = TestWheels.wheelArtifact(TestWheels.wheel("mypkg", "2.0").requires("core-lib==1.0")
                .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 2\n").build(wheels));
    }

    /** A new mirror on loopback publishing the three wheels; {@code app2Script} answers requests for mypkg 2.0. */
    FakeMirror mirror(FakeMirror.Reply... app2Script) throws IOException {
        FakeMirror m = FakeMirror.start();
        open.add(m);
        m.put(core.getFilename(), bytes(core));
        m.put(app1.getFilename(), bytes(app1));
        m.put(app2.getFilename(), bytes(app2), app2Script);
        return m;
    }

    byte[] bytes(Artifact a) throws IOException {
        return Files.readAllBytes(wheels.resolve(a.getFilename()));
    }

    /**
     * The interpreter {@code python3} on PATH resolves to (found once): agents get it directly, so that none of
     * them pays for a wrapper such as a pyenv shim at every start.
     */
    static synchronized String python() throws IOException {
        if (python == null) {
            python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        }
        return python;
    }

    private static String python;

    /** An agent in this JVM, plaintext on a free loopback port unless {@code extra} says otherwise. */
    Agent agent(String name, URI mirror, Map<String, String> extra) throws IOException {
        Map<String, String> cfg = new LinkedHashMap<>(Map.of("mirrors", mirror.toString(), "python", python()));
        cfg.putAll(extra);
        Agent a = fleet.start(name, cfg);
        listen(name, "127.0.0.1", a.port());
        return a;
    }

    /**
     * A real agent process named {@code name} with its root at {@code fleet/name}; {@code extra} overrides any key
     * (e.g. {@code listen} to come back on the same port); {@code launcher} goes before the java command.
     */
    AgentProcess agentProcess(String name, String mirrors, Map<String, String> extra, List<String> launcher)
            throws IOException, InterruptedException {
        return agentProcess(name, mirrors, extra, launcher, List.of());
    }

    /** As above, with {@code jvmOptions} for the agent's JVM. */
    AgentProcess agentProcess(String name, String mirrors, Map<String, String> extra, List<String> launcher,
            List<String> jvmOptions) throws IOException, InterruptedException {
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", name);
        cfg.put("root", root(name).toString());
        cfg.put("listen", "127.0.0.1:0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", fleet.trustedKeys().toString());
        cfg.put("mirrors", mirrors);
        cfg.put("python", python());
        cfg.put("shutdown-seconds", "5");
        cfg.putAll(extra);
        AgentProcess p = AgentProcess.start(dir.resolve("proc-" + name + "-" + System.nanoTime()), cfg, launcher,
                jvmOptions);
        open.add(p);
        return p;
    }

    /** Agent keys for mutual TLS with {@code name}'s certificate from the fleet CA in {@code ca} (`pinfleet certs`). */
    static Map<String, String> tls(Path ca, String name) {
        return Map.of("plaintext", "false", "tls-cert", ca.resolve(name + ".crt").toString(),
                "tls-key", ca.resolve(name + ".key").toString(), "tls-ca", ca.resolve("ca.crt").toString());
    }

    /** Where the inventory says {@code name} listens. */
    void listen(String name, String host, int port) {
        inventoryLines.put(name, name + " ansible_host=" + host + " pinfleet_agent_port=" + port);
    }

    Path root(String name) {
        return fleet.root(name);
    }

    /** The nodes of the inventory, in its order. */
    List<String> nodes() {
        return List.copyOf(inventoryLines.keySet());
    }

    String current(String name) throws IOException {
        return dev.pinfleet.agent.testing.CleanRoot.current(root(name), "shop");
    }

    /** Writes the inventory: one [web] group of every node, in the order they were added. */
    Path inventory() throws IOException {
        Path f = dir.resolve("hosts.ini");
        Files.writeString(f, "[web]\n" + String.join("\n", inventoryLines.values()) + "\n");
        return f;
    }

    Manifest manifest(long serial, Artifact app) {
        return TestFleet.manifest("shop", serial, List.of(core, app)).build();
    }

    static String release(Manifest m) {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
    }

    /** Signs {@code m} into a file. */
    Path signed(Manifest m) {
        Path f = dir.resolve("shop-" + m.getSerial() + "-" + System.nanoTime() + ".signed.json");
        Json.write(f, fleet.sign(m));
        return f;
    }

    record Run(int code, String out, String err) {
        String all() {
            return out + err;
        }
    }

    /** The real CLI in this JVM. */
    Run cli(List<String> args) {
        return cli(args, new StringWriter());
    }

    /** The real CLI in this JVM, its standard output going to {@code out} (which another thread may read meanwhile). */
    Run cli(List<String> args, StringWriter out) {
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args.toArray(String[]::new), new PrintWriter(out), new PrintWriter(err),
                Clock.systemUTC(), new Terminal(new BufferedReader(new StringReader("")), false, 120), CliContext.of(dir, Map.of()));
        return new Run(code, out.toString(), err.toString());
    }

    /** `pinfleet deploy SIGNED --inventory … --report REPORT --progress plain` plus {@code extra}, as arguments. */
    List<String> deployArgs(Path signed, Path report, List<String> extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("deploy", signed.toString(), "--inventory", inventory().toString(),
                "--report", report.toString(), "--progress", "plain"));
        args.addAll(extra);
        return args;
    }

    /** Runs a deploy in this JVM, checks its exit code and returns its report. */
    FleetReport deploy(Path signed, Path report, List<String> extra, int expectCode) throws IOException {
        Run r = cli(deployArgs(signed, report, extra));
        if (r.code() != expectCode) {
            throw new AssertionError("pinfleet deploy exit " + r.code() + " (wanted " + expectCode + "):\n" + r.all());
        }
        return Json.read(report, FleetReport.newBuilder()).build();
    }

    static Map<String, NodeReport> byNode(FleetReport r) {
        return r.getNodesList().stream().collect(Collectors.toMap(NodeReport::getNode, Function.identity()));
    }

    /** Waits, polling every 20 ms, until {@code condition} holds; fails naming {@code what} after {@code limit}. */
    static void await(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + limit + " waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Keeps {@code c} open until this fleet closes (closed in reverse order of registration). */
    <T extends AutoCloseable> T closeLater(T c) {
        open.add(c);
        return c;
    }

    @Override
    public void close() {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // best effort: the next resource still gets closed
            }
        }
        fleet.close();
    }
}

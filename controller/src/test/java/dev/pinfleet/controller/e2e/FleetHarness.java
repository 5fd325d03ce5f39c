package dev.pinfleet.controller.e2e;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.trust.Keys;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A fleet for CLI tests: a counting mirror on loopback with three tiny wheels (core-lib 1.0, mypkg 1.0 and 2.0),
 * agents on loopback each with its own root and port, an INI inventory of them, a signing key, and the real CLI.
 */
final class FleetHarness implements AutoCloseable {
    final Path dir;
    final FakeMirror mirror;
    final TestFleet fleet;
    final Artifact core;
    final Artifact app1;
    final Artifact app2;
    final Path key;
    final Map<String, Agent> agents = new LinkedHashMap<>();
    final Map<String, String> inventoryLines = new LinkedHashMap<>();

    FleetHarness(Path dir) throws IOException {
        this.dir = dir;
        mirror = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        core = publish(TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n").build(wheels));
        app1 = publish(TestWheels.wheel("mypkg", "1.0").requires("core-lib==1.0")
                .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 1\n").build(wheels));
        app2 = publish(TestWheels.wheel("mypkg", "2.0").requires("core-lib==1.0")
                .file("mypkg/__init__.py", "import core_lib\nANSWER = core_lib.VALUE + 2\n").build(wheels));
        key = dir.resolve("release.key");
        Keys.writePrivate(key, fleet.key().getPrivate());
    }

    private Artifact publish(Path wheel) throws IOException {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    /** Starts agents web1..webN (plaintext on loopback) and lists them in the inventory. */
    FleetHarness start(int n) throws IOException {
        for (int i = 1; i <= n; i++) {
            start("web" + i, Map.of());
        }
        return this;
    }

    Agent start(String name, Map<String, String> extra) throws IOException {
        Agent a = fleet.start(name, extra);
        agents.put(name, a);
        inventoryLines.put(name, name + " ansible_host=127.0.0.1 pinfleet_agent_port=" + a.port());
        return a;
    }

    /** Writes the inventory: one [web] group of every host, plus {@code extra} text. */
    Path inventory(String extra) throws IOException {
        Path f = dir.resolve("hosts.ini");
        Files.writeString(f, "[web]\n" + String.join("\n", inventoryLines.values()) + "\n" + extra);
        return f;
    }

    Manifest manifest(long serial, Artifact app) {
        return TestFleet.manifest("shop", serial, List.of(core, app)).build();
    }

    /**
     * A mirror that serves core and mypkg 1.0 at once, and mypkg 2.0 only once {@code gate} opens (failing the request
     * after {@code wait}): a rollout of v2 through it stays in flight until the test lets it go on.
     */
    FakeMirror heldMirror(CountDownLatch gate, Duration wait) throws IOException {
        FakeMirror held = FakeMirror.start();
        for (var a : List.of(core, app1)) {
            held.put(a.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(a.getFilename())));
        }
        held.put(app2.getFilename(), Files.readAllBytes(dir.resolve("wheels").resolve(app2.getFilename())),
                (call, content) -> {
                    try {
                        if (!gate.await(wait.toSeconds(), TimeUnit.SECONDS)) {
                            throw new IOException("test gate never opened");
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("mirror closing", e);
                    }
                    FakeMirror.Reply.ok().respond(call, content);
                });
        return held;
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

    Run cliWithInput(String input, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), Clock.systemUTC(),
                new Terminal(new BufferedReader(new StringReader(input)), false, 120), CliContext.of(dir, Map.of()));
        return new Run(code, out.toString(), err.toString());
    }

    Run cli(String... args) {
        return cliWithInput("", args);
    }

    /** The CLI with {@code args}, then {@code more} (e.g. a controller's options). */
    Run cli(List<String> args, List<String> more) {
        List<String> all = new ArrayList<>(args);
        all.addAll(more);
        return cli(all.toArray(String[]::new));
    }

    /** The arguments of `pinfleet deploy SIGNED` to this fleet's inventory (plaintext agents, plain progress). */
    List<String> deployArgs(Path signed, String... extra) throws IOException {
        List<String> a = new ArrayList<>(List.of("deploy", signed.toString(), "--inventory", inventory("").toString(),
                "--plaintext", "--progress", "plain"));
        a.addAll(List.of(extra));
        return a;
    }

    /** Waits until {@code condition} holds, checking often; fails naming {@code what} after {@code limit}. */
    static void await(String what, Duration limit, java.util.function.BooleanSupplier condition)
            throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + limit + " waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    /** The release id an agent gives manifest {@code m}'s content. */
    static String release(Manifest m) {
        return dev.pinfleet.manifest.ManifestCodec.releaseId(dev.pinfleet.manifest.ManifestCodec.contentDigest(m));
    }

    /** `pinfleet deploy` with plaintext agents and a report file; returns the run and the report. */
    FleetReport deploy(Path signed, List<String> extra, int expectCode) throws IOException {
        Path report = dir.resolve("report-" + System.nanoTime() + ".json");
        List<String> args = new ArrayList<>(List.of("deploy", signed.toString(), "--inventory", inventory("").toString(),
                "--plaintext", "--report", report.toString(), "--progress", "plain"));
        args.addAll(extra);
        Run r = cli(args.toArray(String[]::new));
        if (r.code() != expectCode) {
            throw new AssertionError("exit " + r.code() + " (wanted " + expectCode + "):\n" + r.all());
        }
        lastRun = r;
        return Json.read(report, FleetReport.newBuilder()).build();
    }

    Run lastRun;

    @Override
    public void close() {
        mirror.close();
        fleet.close();
    }
}

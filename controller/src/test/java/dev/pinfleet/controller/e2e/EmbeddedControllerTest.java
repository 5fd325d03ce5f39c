package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.controller.threat.ControllerProcess;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Manifest;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller inside the CLI: its records in {@code .pinfleet/} found from the working directory upwards (made in
 * it on first use); Ctrl-C records the rollout interrupted and the next command says so; resume finishes it.
 */
class EmbeddedControllerTest {
    static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir Path dir;
    FleetHarness h;
    FakeMirror held;
    final CountDownLatch gate = new CountDownLatch(1);

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        held = h.heldMirror(gate, WAIT);
    }

    @AfterEach
    void tearDown() {
        gate.countDown();
        held.close();
        h.close();
    }

    /** The real CLI in this JVM, working in {@code cwd}. */
    private FleetHarness.Run cliIn(Path cwd, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), Clock.systemUTC(),
                new Terminal(new BufferedReader(new StringReader("")), false, 120), CliContext.of(cwd, Map.of()));
        return new FleetHarness.Run(code, out.toString(), err.toString());
    }

    @Test
    void theRecordsAreFoundUpwardsAndMadeWhereNoneAre() throws Exception {
        h.start(1);
        Path project = Files.createDirectories(dir.resolve("project"));
        Path deep = Files.createDirectories(project.resolve("a/b"));
        FleetHarness.Run d = cliIn(project, "deploy", h.signed(h.manifest(1, h.app1)).toString(), "--inventory",
                h.inventory("").toString(), "--plaintext", "--progress", "plain", "-m", "first");
        assertEquals(0, d.code(), d.all());
        assertTrue(d.out().contains("on the embedded controller on " + project.resolve(".pinfleet/records.db")), d.out());
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(project.resolve(".pinfleet"))));
        FleetHarness.Run history = cliIn(deep, "history");
        assertEquals(0, history.code(), history.all());
        assertTrue(history.out().lines().anyMatch(l -> l.matches(" +1 +shop +1 .* succeeded .*1 ok .*first")), history.out());
        assertFalse(Files.exists(deep.resolve(".pinfleet")), "found upwards, not made again");
        FleetHarness.Run elsewhere = cliIn(Files.createDirectories(dir.resolve("other")), "history", "--json");
        assertEquals("[]", elsewhere.out().strip(), "another directory tree has its own records");
    }

    @Test
    void ctrlCRecordsTheRolloutInterruptedTheNextCommandSaysSoAndResumeFinishesIt() throws Exception {
        h.start("web1", Map.of("mirrors", held.baseUri().toString()));
        h.start("web2", Map.of());
        Manifest v2 = h.manifest(2, h.app2);
        List<String> args = new ArrayList<>(List.of("deploy", h.signed(v2).toString(), "--inventory",
                h.inventory("").toString(), "--plaintext", "--progress", "plain"));
        String out;
        try (ControllerProcess cli = ControllerProcess.start(args, dir)) {
            cli.awaitLine("web1 fetching", l -> l.matches("\\S+ +web1 +fetch"), WAIT);
            cli.interrupt();
            out = cli.output();
        }
        assertTrue(out.contains("pinfleet: stopped: rollout 1 is interrupted (the deploys in flight finish on their"
                + " agents); `pinfleet resume 1` continues it"), out);
        FleetHarness.Run next = cliIn(dir, "history");
        assertTrue(next.err().contains("pinfleet: rollout 1 of shop serial 2 (by "), next.all());
        assertTrue(next.err().contains(") was interrupted: ") && next.err().contains("`pinfleet resume 1` continues it"),
                next.all());
        FleetHarness.Run show = cliIn(dir, "show", "1");
        assertTrue(show.out().contains("interrupted: the controller running it stopped"), show.out());

        FleetHarness.Run again = cliIn(dir, "deploy", h.signed(v2).toString(), "--inventory", h.inventory("").toString(),
                "--plaintext");
        assertEquals(1, again.code());
        assertTrue(again.err().contains("rollout 1 of shop serial 2 was interrupted"), again.err());

        gate.countDown();
        FleetHarness.Run resumed = cliIn(dir, "resume", "1", "--progress", "plain");
        assertEquals(0, resumed.code(), resumed.all());
        assertTrue(resumed.out().contains("2 of 2 node(s) ok"), resumed.out());
        String release = ManifestCodec.releaseId(ManifestCodec.contentDigest(v2));
        assertEquals(release, h.fleet.current("web1", "shop"));
        assertEquals(release, h.fleet.current("web2", "shop"));
        FleetHarness.Run audit = cliIn(dir, "audit");
        assertTrue(audit.out().lines().anyMatch(l -> l.matches(".* resume +1 +shop serial 2: continued .*")), audit.out());
    }
}

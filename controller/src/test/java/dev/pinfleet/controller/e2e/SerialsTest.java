package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serials that no laptop clock can trap, against a served controller and real agents on loopback: {@code freeze}
 * with a controller configured takes the next serial from it (above a manifest frozen a year ahead); a stale serial's
 * refusal names the command that fixes it; {@code redeploy} rolls forward again after a rollback.
 */
class SerialsTest {
    /** A year, in seconds: the serial of a manifest frozen with a clock (or a --serial) a year ahead. */
    static final long YEAR_SECONDS = 365L * 24 * 3600;

    @TempDir Path dir;
    FleetHarness h;
    ServedController served;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (served != null) {
            served.close();
        }
        h.close();
    }

    @Test
    void aFutureSerialNoLongerBlocksLaterFreezesWhenAControllerIsConfigured() throws Exception {
        h.start(2);
        served = ServedController.start(h, dir.resolve("controller"), dir.resolve("records.db").toString());
        Path mirror = publishedMirror();
        Path v1 = Files.writeString(dir.resolve("v1.txt"), "core-lib==1.0\nmypkg==1.0\n");
        Path v2 = Files.writeString(dir.resolve("v2.txt"), "core-lib==1.0\nmypkg==2.0\n");

        long future = System.currentTimeMillis() / 1000 + YEAR_SECONDS;
        Path ahead = freeze(v1, mirror, "ahead", List.of("--serial", Long.toString(future)));
        assertEquals(future, serial(ahead));
        h.deploy(sign(ahead), served.as("alice"), 0);

        // Without a controller the serial is the clock's: every node refuses it as stale, and says what fixes that.
        Path clock = freeze(v2, mirror, "clock", List.of());
        assertTrue(serial(clock) < future, "the clock's serial is below the one frozen a year ahead");
        FleetReport refused = h.deploy(sign(clock), served.as("alice"), 1);
        for (NodeReport n : refused.getNodesList()) {
            assertEquals(NodeOutcome.NODE_FAILED, n.getOutcome(), n.toString());
            assertEquals(FailureReason.REASON_VERIFY_SERIAL, n.getReport().getReason(), n.toString());
        }
        String hint = "2 node(s) refused serial " + serial(clock) + " of shop as stale (verify/serial: not greater than"
                + " the serial they last applied); `pinfleet redeploy " + refused.getDeployId() + " --key KEY`";
        assertTrue(h.lastRun.out().contains(hint), h.lastRun.all());
        assertTrue(h.lastRun.out().contains("`pinfleet freeze` with a controller configured"), h.lastRun.all());

        // With the controller configured: one above the highest serial it recorded, and a new one at each freeze.
        List<String> asAlice = new ArrayList<>(served.as("alice"));
        Path next = freeze(v2, mirror, "next", asAlice);
        assertEquals(future + 1, serial(next));
        assertTrue(h.lastRun.out().contains("serial " + (future + 1) + " (from the controller; highest it knew: "
                + future + ")"), h.lastRun.out());
        FleetReport ok = h.deploy(sign(next), served.as("alice"), 0);
        assertTrue(ok.getNodesList().stream().allMatch(n -> n.getOutcome() == NodeOutcome.NODE_OK), ok.toString());
        String v2Release = ManifestCodec.releaseId(ManifestCodec.contentDigest(manifest(next)));
        assertEquals(v2Release, h.fleet.current("web1", "shop"));
        assertEquals(v2Release, h.fleet.current("web2", "shop"));
        assertEquals(future + 2, serial(freeze(v1, mirror, "again", asAlice)), "each freeze is issued a new serial");

        FleetHarness.Run audit = h.cli(Stream.concat(Stream.of("audit"), served.as("bob").stream()).toArray(String[]::new));
        assertEquals(0, audit.code(), audit.all());
        assertTrue(audit.out().contains("app shop: serial " + (future + 2) + " (highest known " + (future + 1) + ")"),
                audit.out());
    }

    @Test
    void redeployRollsForwardAgainAfterARollbackOnThreeAgents() throws Exception {
        h.start(3);
        served = ServedController.start(h, dir.resolve("controller"), dir.resolve("records.db").toString());
        Path inv = h.inventory("");
        Manifest a = h.manifest(1, h.app1);
        Manifest b = h.manifest(2, h.app2);
        h.deploy(h.signed(a), served.as("alice"), 0);
        Path bSigned = h.signed(b);
        FleetReport deployedB = h.deploy(bSigned, served.as("alice"), 0);
        List<String> rollback = new ArrayList<>(List.of("rollback", "--inventory", inv.toString(), "--plaintext",
                "--app", "shop", "--key", h.key.toString(), "-o", dir.resolve("rb.signed.json").toString()));
        rollback.addAll(served.as("alice"));
        FleetHarness.Run rb = h.cli(rollback.toArray(String[]::new));
        assertEquals(0, rb.code(), rb.all());
        assertTrue(rb.out().contains("as serial 3"), rb.out());
        String releaseA = ManifestCodec.releaseId(ManifestCodec.contentDigest(a));
        String releaseB = ManifestCodec.releaseId(ManifestCodec.contentDigest(b));
        for (String node : List.of("web1", "web2", "web3")) {
            assertEquals(releaseA, h.fleet.current(node, "shop"), node);
        }

        // B's own signed manifest is refused everywhere after the rollback; the report says how to go forward.
        FleetReport stale = h.deploy(bSigned, served.as("alice"), 1);
        assertTrue(stale.getNodesList().stream().allMatch(n -> n.getReport().getReason()
                == FailureReason.REASON_VERIFY_SERIAL), stale.toString());
        assertTrue(h.lastRun.out().contains("`pinfleet redeploy " + stale.getDeployId() + " --key KEY`"),
                h.lastRun.all());

        Path report = dir.resolve("redeploy.json");
        List<String> redeploy = new ArrayList<>(List.of("redeploy", deployedB.getDeployId(), "--key", h.key.toString(),
                "--trusted", h.fleet.trustedKeys().toString(), "-o", dir.resolve("rd.signed.json").toString(),
                "--report", report.toString(), "--progress", "plain"));
        redeploy.addAll(served.as("bob"));
        FleetHarness.Run rd = h.cli(redeploy.toArray(String[]::new));
        assertEquals(0, rd.code(), rd.all());
        FleetReport r = Json.read(report, FleetReport.newBuilder()).build();
        // Above the rollback's serial 3 and the stale attempt's serial 2: the controller's next serial.
        assertEquals(4, r.getSerial(), rd.out());
        assertTrue(rd.out().contains("deploying the content of rollout " + deployedB.getDeployId()
                + " (shop serial 2, digest "), rd.out());
        assertEquals(ManifestCodec.contentDigest(b), r.getManifestDigest(), "B's content, re-signed");
        for (String node : List.of("web1", "web2", "web3")) {
            assertEquals(releaseB, h.fleet.current(node, "shop"), node);
        }
        assertTrue(r.getNodesList().stream().allMatch(n -> n.getOutcome() == NodeOutcome.NODE_OK), r.toString());
        assertEquals("bob", r.getOperator());
        assertEquals("redeploy of rollout " + deployedB.getDeployId() + " (serial 2)", r.getMessage());
    }

    /** A mirror directory with the harness's wheels published (and the same files on the agents' mirror). */
    private Path publishedMirror() throws Exception {
        Path m = dir.resolve("mirror");
        List<String> publish = new ArrayList<>(List.of("mirror", "publish"));
        try (Stream<Path> wheels = Files.list(dir.resolve("wheels"))) {
            wheels.forEach(w -> publish.add(w.toString()));
        }
        publish.addAll(List.of("--mirror", m.toString(), "--as", "tester"));
        for (List<String> args : List.of(List.of("mirror", "init", m.toString()),
                List.of("mirror", "acknowledge", m.toString(), "--as", "tester", "--policy-version", "1"), publish)) {
            FleetHarness.Run r = h.cli(args.toArray(String[]::new));
            assertEquals(0, r.code(), String.join(" ", args) + ": " + r.all());
        }
        try (Stream<Path> files = Files.walk(m.resolve("packages"))) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                h.mirror.put(m.relativize(f).toString(), Files.readAllBytes(f));
            }
        }
        return m;
    }

    private Path freeze(Path requirements, Path mirror, String name, List<String> extra) {
        Path out = dir.resolve(name + ".json");
        List<String> args = new ArrayList<>(List.of("freeze", requirements.toString(), "--mirror", mirror.toString(),
                "--app", "shop", "-o", out.toString()));
        args.addAll(extra);
        FleetHarness.Run r = h.cli(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.all());
        h.lastRun = r;
        return out;
    }

    private Path sign(Path manifest) {
        Path out = Path.of(manifest.toString().replace(".json", ".signed.json"));
        FleetHarness.Run r = h.cli("sign", manifest.toString(), "--key", h.key.toString(), "-o", out.toString());
        assertEquals(0, r.code(), r.all());
        return out;
    }

    private static Manifest manifest(Path file) throws Exception {
        return ManifestCodec.parse(Files.readAllBytes(file));
    }

    private static long serial(Path file) throws Exception {
        return manifest(file).getSerial();
    }
}

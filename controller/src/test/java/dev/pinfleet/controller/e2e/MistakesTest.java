package dev.pinfleet.controller.e2e;

import dev.pinfleet.testing.LoopbackPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mistakes a new operator made (issue 15), each through the real CLI: every message names the cause and the next
 * step, and none shows a Java class name or "null".
 */
class MistakesTest {
    /** What an operator must never read: Java's words, not theirs. */
    private static final Pattern JAVA = Pattern.compile("\\bnull\\b|Exception|java\\.|io\\.grpc|io exception|Channel Pipeline");

    @TempDir Path dir;
    FleetHarness h;
    Path mirrorDir;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
        mirrorDir = dir.resolve("mirror");
        Path wheels = dir.resolve("wheels");
        new Publisher().publishAll(mirrorDir, List.of(wheels.resolve(h.core.getFilename()),
                wheels.resolve(h.app1.getFilename())), "tester", "");
    }

    /** Ports kept refusing connections until the test ends (bound, never listening). */
    final java.util.List<java.net.Socket> refusing = new java.util.ArrayList<>();

    @AfterEach
    void tearDown() {
        LoopbackPorts.release(refusing);
        h.close();
    }

    private FleetHarness.Run fails(String... args) {
        FleetHarness.Run r = h.cli(args);
        assertTrue(r.code() != 0, "should fail: " + String.join(" ", args) + "\n" + r.all());
        assertFalse(JAVA.matcher(r.err()).find(), "Java's words in: " + r.err());
        return r;
    }

    private Path requirements(String text) throws Exception {
        return Files.writeString(dir.resolve("requirements-" + System.nanoTime() + ".txt"), text);
    }

    private String[] freeze(Path reqs, String mirror) {
        return new String[] {"freeze", reqs.toString(), "--mirror", mirror, "--app", "shop", "--python",
            TestFleet.pythonVersion(), "-o", dir.resolve("manifest.json").toString()};
    }

    /** A loopback port that refuses connections until the test ends. */
    private int closedPort() throws Exception {
        refusing.add(LoopbackPorts.refusing());
        return refusing.get(refusing.size() - 1).getLocalPort();
    }

    @Test
    void aWrongMirrorUrlSaysNothingAnswersThereOnceNotOncePerPin() throws Exception {
        int port = closedPort();
        FleetHarness.Run r = fails(freeze(requirements("mypkg==1.0\ncore-lib==1.0\n"), "http://127.0.0.1:" + port + "/"));
        assertEquals("pinfleet: mirror http://127.0.0.1:" + port + "/: nothing answers at 127.0.0.1:" + port
                + " (connection refused): check --mirror, and that the mirror is served there (`pinfleet mirror serve` or"
                + " nginx)\n", r.err());
    }

    @Test
    void aTypoGetsTheCloseNamesAndAMissingVersionTheVersionsTheMirrorHas() throws Exception {
        FleetHarness.Run typo = fails(freeze(requirements("mypkq==1.0\ncore-lib==1.0\n"), mirrorDir.toString()));
        assertTrue(typo.err().contains(":1: no project 'mypkq' on mirror " + mirrorDir + "; did you mean mypkg?"),
                typo.err());
        FleetHarness.Run version = fails(freeze(requirements("mypkg==3.0\ncore-lib==1.0\n"), mirrorDir.toString()));
        assertTrue(version.err().contains(":1: no wheel for mypkg==3.0 on mirror " + mirrorDir + "; it has mypkg only 1.0"),
                version.err());
        FleetHarness.Run nothing = fails(freeze(requirements("zzzzzz==1.0\n"), mirrorDir.toString()));
        assertTrue(nothing.err().contains("no project 'zzzzzz' on mirror " + mirrorDir + "; check the name, or publish it"),
                nothing.err());
    }

    @Test
    void everyErrorOfARequirementsFileAtOnce() throws Exception {
        Path reqs = requirements("mypkg==1.0\nflask\ncore-lib>=1.0\n");
        FleetHarness.Run r = fails(freeze(reqs, mirrorDir.toString()));
        assertTrue(r.err().startsWith("pinfleet: 2 problems in " + reqs + ":\n  " + reqs + ":2: 'flask': not pinned"), r.err());
        assertTrue(r.err().contains("\n  " + reqs + ":3: 'core-lib>=1.0'"), r.err());
    }

    @Test
    void theSimpleIndexUrlPipUsersTypeIsAcceptedAsTheMirror() throws Exception {
        try (MirrorServer server = new MirrorServer(mirrorDir, new InetSocketAddress("127.0.0.1", 0),
                new SimpleMeterRegistry())) {
            String simple = "http://127.0.0.1:" + server.start() + "/simple/";
            FleetHarness.Run r = h.cli(freeze(requirements("mypkg==1.0\ncore-lib==1.0\n"), simple));
            assertEquals(0, r.code(), r.all());
            assertTrue(r.out().startsWith("froze 2 pin(s)"), r.out());
        }
    }

    @Test
    void anUnsignedManifestGivenToDeploySaysSignItFirst() throws Exception {
        h.start(1);
        Path inv = h.inventory("");
        Path unsigned = dir.resolve("manifest4.json");
        assertEquals(0, h.cli(freeze(requirements("mypkg==1.0\ncore-lib==1.0\n"), mirrorDir.toString())).code());
        Files.move(dir.resolve("manifest.json"), unsigned);
        FleetHarness.Run r = fails("deploy", unsigned.toString(), "-i", inv.toString(), "--plaintext");
        assertEquals("pinfleet: " + unsigned + " is an unsigned manifest (as 'pinfleet freeze' writes it): sign it with "
                + "`pinfleet sign " + unsigned + " --key KEY -o SIGNED.json`, then give SIGNED.json\n", r.err());
    }

    @Test
    void anInventoryThatIsNotThereIsNamedNotFound() throws Exception {
        Path signed = h.signed(h.manifest(1, h.app1));
        FleetHarness.Run r = fails("deploy", signed.toString(), "-i", "host.yml", "--plaintext");
        assertEquals("pinfleet: inventory host.yml: not found (no file " + Path.of("host.yml").toAbsolutePath()
                + "); give the Ansible inventory with -i FILE\n", r.err());
    }

    @Test
    void aNodeWithNothingListeningIsUnreachableInPlainWords() throws Exception {
        h.start(1);
        int port = closedPort();
        Path inv = h.inventory("web9 ansible_host=127.0.0.1 pinfleet_agent_port=" + port + "\n");
        FleetHarness.Run plan = h.cli("plan", h.signed(h.manifest(1, h.app1)).toString(), "-i", inv.toString(),
                "--plaintext");
        assertEquals(1, plan.code(), plan.all());
        assertTrue(plan.out().contains("web9: UNREACHABLE: web9 (127.0.0.1:" + port + "): unreachable: nothing answers at "
                + "127.0.0.1:" + port), plan.out());
        assertTrue(plan.out().contains("is pinfleet-agent running there, on the port the inventory gives"), plan.out());
        assertFalse(JAVA.matcher(plan.out()).find(), plan.out());
    }
}

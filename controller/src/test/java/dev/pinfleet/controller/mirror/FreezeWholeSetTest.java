package dev.pinfleet.controller.mirror;

import static dev.pinfleet.testing.Messages.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.Json;
import dev.pinfleet.mirror.serve.MirrorServer;
import dev.pinfleet.proto.v1.Manifest;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 19's freeze side through the real CLI: wheels built in the test, published with 'pinfleet mirror publish',
 * served by 'pinfleet mirror serve' on loopback, frozen with 'pinfleet freeze --mirror http://…'. A set that would
 * not install as one environment (a wheel shipping another project's module, a file where another wheel has a
 * package, one project under two spellings, a Requires-Python that excludes the target) is refused with every
 * problem at once, nothing written; identical bytes and namespace packages freeze.
 */
class FreezeWholeSetTest {
    private static final String SIX_PY = "__version__ = '1.17.0'\n";

    @TempDir Path dir;
    Path mirror;
    MirrorServer server;
    String base;

    @BeforeEach
    void publish() throws Exception {
        mirror = dir.resolve("mirror");
        Path in = Files.createDirectories(dir.resolve("in"));
        List<Path> wheels = new ArrayList<>();
        wheels.add(TestWheels.wheel("six", "1.17.0").file("six.py", SIX_PY).build(in));
        wheels.add(TestWheels.wheel("overlay", "1.0").file("overlay/__init__.py", "")
                .file("six.py", "print('overlaid')\n__version__ = 'overlay'\n").build(in));
        wheels.add(TestWheels.wheel("vendored-six", "1.0").file("vendored_six/__init__.py", "")
                .file("six.py", SIX_PY).build(in));
        wheels.add(TestWheels.wheel("ns-alpha", "1.0").file("acme/alpha/__init__.py", "").build(in));
        wheels.add(TestWheels.wheel("ns-beta", "1.0").file("acme/beta/__init__.py", "").build(in));
        wheels.add(TestWheels.wheel("flat", "1.0").file("tools", "a file named like a package\n").build(in));
        wheels.add(TestWheels.wheel("nested", "1.0").file("tools/__init__.py", "").build(in));
        wheels.add(TestWheels.wheel("future-only", "1.0").requiresPython(">=3.12").file("future_only.py", "").build(in));
        assertEquals(0, MirrorCliTest.cli("mirror", "init", "--mirror", mirror.toString()).code());
        assertEquals(0, MirrorCliTest.cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "ci", "--policy-version",
                "1").code());
        List<String> args = new ArrayList<>(List.of("mirror", "publish"));
        wheels.forEach(w -> args.add(w.toString()));
        args.addAll(List.of("--mirror", mirror.toString(), "--as", "ci"));
        MirrorCliTest.Run pub = MirrorCliTest.cli(args.toArray(String[]::new));
        assertEquals(0, pub.code(), pub.err());
        server = new MirrorServer(mirror, new InetSocketAddress("127.0.0.1", 0), new SimpleMeterRegistry());
        base = "http://127.0.0.1:" + server.start() + "/";
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private MirrorCliTest.Run freeze(Path reqs, Path out) {
        return MirrorCliTest.cli("freeze", reqs.toString(), "--mirror", base, "--app", "shop", "--python", "3.11",
                "-o", out.toString());
    }

    @Test
    void aSetThatDoesNotInstallAsOneIsRefusedWithEveryProblemAtOnce() throws Exception {
        Path reqs = dir.resolve("requirements.txt");
        Files.writeString(reqs, String.join("\n",
                "# the app's pins",
                "six==1.17.0",
                "ns-alpha==1.0",
                "flat==1.0",
                "nested==1.0",
                "future-only==1.0",
                "overlay==1.0",
                "SIX==1.17.0",
                ""));
        Path out = dir.resolve("manifest.json");
        MirrorCliTest.Run r = freeze(reqs, out);
        assertEquals(1, r.code(), r.out());
        assertContains(r.err(), "4 problem(s) for CPython 3.11",
                reqs + ":8: SIX is already pinned at " + reqs + ":2 as six (one project, six, under two spellings)",
                reqs + ":5: nested==1.0 and flat==1.0 both install 'tools' (a file of flat==1.0, a directory of "
                        + "nested==1.0); flat==1.0 is pinned at " + reqs + ":4",
                reqs + ":6: future-only==1.0 requires Python >=3.12, which excludes the target CPython 3.11",
                reqs + ":7: overlay==1.0 and six==1.17.0 both install 'six.py' (different content); six==1.17.0 is "
                        + "pinned at " + reqs + ":2");
        assertFalse(r.err().contains("acme"), "a namespace package split across wheels is fine: " + r.err());
        assertTrue(Files.notExists(out), "nothing is written when the set is refused");
    }

    @Test
    void identicalBytesAndNamespacePackagesFreezeAndTheSharedPathIsSaid() throws Exception {
        Path reqs = dir.resolve("requirements.txt");
        Files.writeString(reqs, "six==1.17.0\nvendored-six==1.0\nns-alpha==1.0\nns-beta==1.0\n");
        Path out = dir.resolve("manifest.json");
        MirrorCliTest.Run r = freeze(reqs, out);
        assertEquals(0, r.code(), r.err());
        assertContains(r.out(), "shared with identical bytes: 'six.py': six==1.17.0, vendored-six==1.0",
                "froze 4 pin(s)");
        Manifest m = Json.read(out, Manifest.newBuilder()).build();
        assertEquals(List.of("six", "vendored-six", "ns-alpha", "ns-beta"),
                m.getArtifactsList().stream().map(a -> a.getName()).toList());
    }

    @Test
    void aRealInstalledWheelWhoseModuleAnotherWheelShipsIsRefusedNamingBothAndThePath() throws Exception {
        Path in = Files.createDirectories(dir.resolve("real"));
        Path pip = TestWheels.packInstalled("python3", "pip", in);
        String version = pip.getFileName().toString().split("-")[1];
        Path overlay = TestWheels.wheel("pip-overlay", "1.0").file("pip_overlay/__init__.py", "")
                .file("pip/__init__.py", "print('overlaid')\n").build(in);
        MirrorCliTest.Run pub = MirrorCliTest.cli("mirror", "publish", pip.toString(), overlay.toString(),
                "--mirror", mirror.toString(), "--as", "ci");
        assertEquals(0, pub.code(), pub.err());
        Path reqs = dir.resolve("requirements.txt");
        Files.writeString(reqs, "pip==" + version + "\npip-overlay==1.0\n");
        Path out = dir.resolve("manifest.json");
        MirrorCliTest.Run r = freeze(reqs, out);
        assertEquals(1, r.code(), r.out());
        assertContains(r.err(), reqs + ":2: pip-overlay==1.0 and pip==" + version + " both install 'pip/__init__.py' "
                + "(different content); pip==" + version + " is pinned at " + reqs + ":1");
        assertTrue(Files.notExists(out), "nothing is written when the set is refused");
    }
}

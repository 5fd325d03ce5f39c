package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.SharedPath;
import dev.pinfleet.wheel.testing.WheelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hand-made manifest pairing a wheel with another wheel that ships the same module, deployed over real gRPC on
 * loopback from a real HTTP mirror: refused in INSTALL naming both and the path, `current` where it was, the root
 * clean; the same pair with byte-identical files deploys and says so in the report.
 */
class PathOwnershipDeployTest {
    @TempDir Path dir;
    FakeMirror mirror;
    TestFleet fleet;
    Path wheels;

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        wheels = Files.createDirectories(dir.resolve("wheels"));
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        mirror.close();
    }

    private Artifact publish(WheelBuilder w) throws Exception {
        Path wheel = w.build(Files.createDirectories(wheels.resolve("w" + System.nanoTime())));
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    private String python(String code) throws Exception {
        Path py = fleet.root("n1").resolve("apps/shop/current/bin/python");
        return TestWheels.run(List.of(py.toString(), "-c", code)).strip();
    }

    @Test
    void aWheelOverwritingAnotherProjectsModuleIsRefusedAndIdenticalBytesAreReported() throws Exception {
        String sixPy = "__version__ = '1.17.0'\n";
        Artifact six = publish(TestWheels.wheel("six", "1.17.0").file("six.py", sixPy));
        Artifact overlay = publish(TestWheels.wheel("overlay", "1.0").file("overlay/__init__.py", "")
                .file("six.py", "print('overlaid')\n__version__ = 'overlay'\n"));
        Agent agent = fleet.start("n1");
        DeployReport first = fleet.deploy(agent, fleet.sign(TestFleet.manifest("shop", 1, List.of(six)).build())).report();
        assertEquals(Outcome.OK, first.getOutcome(), first.getError());
        String before = fleet.current("n1", "shop");

        DeployReport refused = fleet.deploy(agent,
                fleet.sign(TestFleet.manifest("shop", 2, List.of(overlay, six)).build())).report();
        assertEquals(Outcome.FAILED, refused.getOutcome(), refused.getError());
        assertEquals(Phase.INSTALL, refused.getFailedPhase(), refused.getError());
        String site = "lib/python" + TestFleet.pythonVersion() + "/site-packages";
        assertTrue(refused.getError().contains("overlay-1.0-py3-none-any.whl and six-1.17.0-py3-none-any.whl both "
                + "install '" + site + "/six.py' (different content)"), refused.getError());
        assertEquals(before, fleet.current("n1", "shop"), "`current` must not move");
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
        try (Stream<Path> s = Files.list(fleet.root("n1").resolve("apps/shop/releases"))) {
            assertEquals(List.of(before), s.map(p -> p.getFileName().toString()).toList(), "no other release");
        }
        assertEquals("1.17.0", python("import six; print(six.__version__)"));

        Artifact sameBytes = publish(TestWheels.wheel("overlay", "2.0").file("overlay/__init__.py", "")
                .file("six.py", sixPy));
        DeployReport ok = fleet.deploy(agent,
                fleet.sign(TestFleet.manifest("shop", 3, List.of(six, sameBytes)).build())).report();
        assertEquals(Outcome.OK, ok.getOutcome(), ok.getError());
        assertEquals(List.of(SharedPath.newBuilder().setPath(site + "/six.py").addArtifacts(six.getFilename())
                .addArtifacts(sameBytes.getFilename()).build()), ok.getSharedPathsList());
        assertEquals("1.17.0", python("import six, overlay; print(six.__version__)"));
    }
}

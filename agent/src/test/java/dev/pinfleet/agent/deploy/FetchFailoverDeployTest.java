package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Source;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole deploy (real agent, real gRPC, two real HTTP mirrors on loopback) through a cut download, a mirror
 * that lacks a file and a mirror that serves wrong bytes: the cut one is resumed with Range on the same mirror,
 * the others come from the second mirror, the report says which URL served each artifact after how many tries,
 * and the release runs.
 */
class FetchFailoverDeployTest {
    @TempDir Path dir;
    FakeMirror first;
    FakeMirror second;
    TestFleet fleet;
    Path wheels;

    @BeforeEach
    void setUp() throws Exception {
        first = FakeMirror.start();
        second = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), first.baseUri(), second.baseUri());
        wheels = Files.createDirectories(dir.resolve("wheels"));
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        first.close();
        second.close();
    }

    private Path wheel(String name, int payload) throws Exception {
        return TestWheels.wheel(name, "1.0").file(name + "/__init__.py", "NAME = '" + name + "'\n")
                .file(name + "/blob.bin", FakeMirror.randomBytes(payload, name.hashCode()), 0100644).build(wheels);
    }

    @Test
    void cutDownloadIsResumedAndMissingOrWrongFilesComeFromTheSecondMirror() throws Exception {
        Path cut = wheel("cutpkg", 400_000);
        Path missing = wheel("missingpkg", 1000);
        Path wrong = wheel("wrongpkg", 1000);
        byte[] cutBytes = Files.readAllBytes(cut);
        first.put(cut.getFileName().toString(), cutBytes, Reply.resetAfter(150_000), Reply.ok());
        second.put(cut.getFileName().toString(), cutBytes);
        second.put(missing.getFileName().toString(), Files.readAllBytes(missing));
        byte[] wrongBytes = Files.readAllBytes(wrong);
        first.put(wrong.getFileName().toString(), wrongBytes, Reply.bytes(FakeMirror.randomBytes(wrongBytes.length, 3)));
        second.put(wrong.getFileName().toString(), wrongBytes);

        List<Artifact> artifacts = List.of(TestWheels.wheelArtifact(cut), TestWheels.wheelArtifact(missing),
                TestWheels.wheelArtifact(wrong));
        Manifest m = TestFleet.manifest("shop", 1, artifacts).build();
        Agent agent = fleet.start("n1");
        DeployReport report = fleet.deploy(agent, fleet.sign(m)).report();
        assertEquals(Outcome.OK, report.getOutcome(), report.getError());
        Map<String, ArtifactResult> byFile = report.getArtifactsList().stream()
                .collect(Collectors.toMap(ArtifactResult::getFilename, Function.identity()));

        ArtifactResult c = byFile.get(cut.getFileName().toString());
        assertEquals(first.baseUri() + cut.getFileName().toString(), c.getUrl(), "resumed on the same mirror");
        assertEquals(2, c.getTries());
        assertEquals(Source.MIRROR, c.getSource());
        assertEquals(artifacts.get(0).getSha256(), c.getSha256());
        List<FakeMirror.Recorded> cutLog = first.log(cut.getFileName().toString());
        assertEquals(2, cutLog.size());
        assertNull(cutLog.get(0).range());
        assertTrue(cutLog.get(1).range() != null && cutLog.get(1).range().startsWith("bytes=")
                && Long.parseLong(cutLog.get(1).range().substring(6, cutLog.get(1).range().length() - 1)) > 0,
                "the second request continues where the first was cut: " + cutLog.get(1).range());
        assertEquals(0, second.requests(cut.getFileName().toString()));

        ArtifactResult mi = byFile.get(missing.getFileName().toString());
        assertEquals(second.baseUri() + missing.getFileName().toString(), mi.getUrl(), "404 on the first: failover");
        assertEquals(2, mi.getTries());
        ArtifactResult w = byFile.get(wrong.getFileName().toString());
        assertEquals(second.baseUri() + wrong.getFileName().toString(), w.getUrl(), "wrong bytes: failover");
        assertEquals(2, w.getTries());
        assertEquals(artifacts.get(2).getSha256(), w.getSha256());

        assertEquals(ManifestCodec.releaseId(ManifestCodec.contentDigest(m)), fleet.current("n1", "shop"));
        Path py = fleet.root("n1").resolve("apps/shop/current/bin/python");
        assertEquals("cutpkg missingpkg wrongpkg", TestWheels.run(List.of(py.toString(), "-c",
                "import cutpkg, missingpkg, wrongpkg; print(cutpkg.NAME, missingpkg.NAME, wrongpkg.NAME)")).strip());
        try (var s = Files.walk(fleet.root("n1").resolve("store/tmp"))) {
            assertEquals(1, s.count(), "no partial download left");
        }
    }
}

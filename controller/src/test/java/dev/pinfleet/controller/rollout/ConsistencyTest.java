package dev.pinfleet.controller.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConsistencyTest {
    private static final String A = "a".repeat(64);
    private static final String B = "b".repeat(64);
    private static final String X = "c".repeat(64);
    private final Manifest m = Manifest.newBuilder().setApp("shop")
            .addArtifacts(Artifact.newBuilder().setFilename("a.whl").setSha256(A))
            .addArtifacts(Artifact.newBuilder().setFilename("b.whl").setSha256(B)).build();

    private static NodeReport node(String name, NodeOutcome o, String digest, String shaOfB) {
        return NodeReport.newBuilder().setNode(name).setOutcome(o).setReport(DeployReport.newBuilder()
                .setManifestDigest(digest)
                .addArtifacts(ArtifactResult.newBuilder().setFilename("a.whl").setSha256(A))
                .addArtifacts(ArtifactResult.newBuilder().setFilename("b.whl").setSha256(shaOfB))).build();
    }

    @Test
    void agreeingNodesHaveNoDifferenceAndFailedNodesAreNotCompared() {
        assertEquals(List.of(), Consistency.check(m, "d1", List.of(node("web1", NodeOutcome.NODE_OK, "d1", B),
                node("web2", NodeOutcome.NODE_UNCHANGED, "d1", B), node("web3", NodeOutcome.NODE_FAILED, "zz", X))));
    }

    @Test
    void everyDifferenceIsListedWithItsNodes() {
        List<String> d = Consistency.check(m, "d1", List.of(node("web1", NodeOutcome.NODE_OK, "d1", B),
                node("web2", NodeOutcome.NODE_OK, "d1", X), node("web3", NodeOutcome.NODE_OK, "d2", B)));
        assertEquals(List.of(
                "web2: artifact b.whl sha256 " + X + " differs from the manifest's " + B,
                "web3: release digest d2 differs from the manifest's d1",
                "artifact b.whl differs between nodes: bbbbbbbbbbbbbbbb… on web1,web3; cccccccccccccccc… on web2"), d);
    }
}

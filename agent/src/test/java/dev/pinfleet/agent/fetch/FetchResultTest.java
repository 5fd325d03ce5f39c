package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.Source;
import org.junit.jupiter.api.Test;

/** What the controller's report gets of each artifact's fetch. */
class FetchResultTest {
    private static final String SHA = "ab".repeat(32);

    @Test
    void theWireFormCarriesEveryFigureOfADownload() {
        FetchResult r = new FetchResult("a-1.0-py3-none-any.whl", SHA, 1234, Source.MIRROR,
                "http://127.0.0.1:8080/packages/a-1.0-py3-none-any.whl", 2, 350, 12, true);

        assertEquals(ArtifactResult.newBuilder().setFilename("a-1.0-py3-none-any.whl").setSha256(SHA).setBytes(1234)
                .setSource(Source.MIRROR).setUrl("http://127.0.0.1:8080/packages/a-1.0-py3-none-any.whl")
                .setFetchMs(350).setVerifyMs(12).setTries(2).build(), r.toProto());
    }

    @Test
    void anArtifactFromTheStoreHasNoUrlNoTriesAndNoTime() {
        Artifact a = Artifact.newBuilder().setFilename("b-2.0-py3-none-any.whl").setSha256(SHA).setSize(99).build();

        assertEquals(ArtifactResult.newBuilder().setFilename("b-2.0-py3-none-any.whl").setSha256(SHA).setBytes(99)
                .setSource(Source.STORE).build(), FetchResult.fromStore(a).toProto());
    }
}

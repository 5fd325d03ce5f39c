package dev.pinfleet.manifest;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;

/** Valid manifests to start tests from. */
public final class TestManifests {
    private TestManifests() {}

    public static Artifact wheel(String name, String version, String sha256, long size) {
        String file = Names.wheelEscape(name) + "-" + version + "-py3-none-any.whl";
        return Artifact.newBuilder().setName(name).setVersion(version).setFilename(file)
                .setPath("packages/" + Names.normalizeProject(name) + "/" + file).setSha256(sha256).setSize(size)
                .setKind(ArtifactKind.WHEEL).build();
    }

    public static Manifest.Builder valid(long nowMillis) {
        return Manifest.newBuilder().setApp("web").setSerial(1).setPython("3.11")
                .setCreated(Timestamps.fromMillis(nowMillis))
                .setExpires(Timestamps.fromMillis(nowMillis + 3_600_000))
                .addArtifacts(wheel("six", "1.17.0", "a".repeat(64), 100));
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.json.ProtoJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The marker of a complete release, {@code .pinfleet/release.json}: a {@link ReleaseMarker} through the project's JSON
 * codec ({@link ProtoJson}: proto field names, numbers as numbers), which is also the shape markers had before they
 * were written through protobuf (those are read the same way).
 */
final class MarkerFile {
    private MarkerFile() {}

    /** The marker's path inside a release directory. */
    static final String PATH = ".pinfleet/release.json";

    /** Writes the marker into {@code release} (creating {@code .pinfleet/}, which must not exist). */
    static void write(Path release, ReleaseMarker marker) throws IOException {
        AppReadable.createDirectory(release.resolve(PATH).getParent());
        AppReadable.write(release.resolve(PATH), ProtoJson.pretty(marker).getBytes(StandardCharsets.UTF_8), false);
    }

    /**
     * Prints and parses a marker once, so that protobuf's JSON mapping (a fresh JVM spends hundreds of milliseconds
     * setting it up on first use) is ready before the first release is built.
     */
    static void warmUp() {
        try {
            ReleaseMarker m = ReleaseMarker.newBuilder().setManifestDigest("0".repeat(64)).setSerial(1)
                    .addArtifacts(InstalledArtifact.newBuilder().setFilename("w.whl")).build();
            ProtoJson.parse(ProtoJson.pretty(m), ReleaseMarker.newBuilder());
        } catch (IOException e) {
            throw new IllegalStateException("the release marker does not survive its own JSON mapping", e);
        }
    }

    /** The marker of {@code release}; empty when there is none or it cannot be read as one. */
    static Optional<ReleaseMarker> read(Path release) {
        try {
            return Optional.of(ProtoJson.parse(Files.readString(release.resolve(PATH), StandardCharsets.UTF_8),
                    ReleaseMarker.newBuilder()).build());
        } catch (IOException e) { // absent, unreadable, or not JSON of a marker (InvalidProtocolBufferException)
            return Optional.empty();
        }
    }
}

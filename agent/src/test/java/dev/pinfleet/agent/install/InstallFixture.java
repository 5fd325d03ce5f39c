package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.Timestamp;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.wheel.testing.WheelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/** A node root in a temp directory: cache, store (a map), releases; builds and moves releases into place. */
final class InstallFixture {
    private static PythonInfo probed;

    final Path root;
    final Path cache;
    final Path releases;
    final Path inputs;
    final PythonInfo python;
    final ReleaseBuilder builder;
    final Map<String, Path> store = new HashMap<>();
    final List<InstallResult> reported = new ArrayList<>();
    /** What the last successful {@link #build} returned. */
    BuildResult built;

    InstallFixture(Path root) throws IOException {
        this(root, root.resolve("cache"));
    }

    /** A node root whose wheel cache lives at {@code cache}, possibly on another file store. */
    InstallFixture(Path root, Path cache) throws IOException {
        this(root, cache, python());
    }

    /** A node root whose releases are built for {@code python} (a real interpreter, or a stand-in script). */
    InstallFixture(Path root, PythonInfo python) throws IOException {
        this(root, root.resolve("cache"), python);
    }

    private InstallFixture(Path root, Path cache, PythonInfo python) throws IOException {
        this.root = root;
        this.cache = Files.createDirectories(cache);
        this.releases = Files.createDirectories(root.resolve("apps/web/releases"));
        this.inputs = Files.createDirectories(root.resolve("inputs"));
        this.python = python;
        this.builder = new ReleaseBuilder(cache, python, 2);
    }

    /** The machine's python3, probed once; the test is skipped when there is none. */
    static synchronized PythonInfo python() {
        if (probed == null) {
            try {
                probed = PythonInfo.probe(Path.of("python3"));
            } catch (IOException e) {
                Assumptions.abort("no runnable python3: " + e.getMessage());
            }
        }
        return probed;
    }

    /** Puts a file into the store and returns its WHEEL artifact. */
    Artifact wheel(WheelBuilder w) throws IOException {
        Path file = w.build(inputs);
        Artifact a = TestWheels.wheelArtifact(file);
        store.put(a.getSha256(), file);
        return a;
    }

    /** Puts any file into the store under an artifact. */
    Artifact add(Artifact a, Path file) {
        store.put(a.getSha256(), file);
        return a;
    }

    Manifest manifest(Artifact... artifacts) {
        return manifest(false, artifacts);
    }

    Manifest manifest(boolean compile, Artifact... artifacts) {
        return Manifest.newBuilder().setApp("web").setSerial(1).setPython(python.version())
                .setCreated(Timestamp.newBuilder().setSeconds(1_700_000_000))
                .setExpires(Timestamp.newBuilder().setSeconds(4_000_000_000L)).setCompileBytecode(compile)
                .addAllArtifacts(List.of(artifacts)).build();
    }

    /** Builds into a staging directory, renames it to its final place and returns that. */
    Path build(String id, Manifest m) throws Exception {
        Path staging = releases.resolve("." + id + ".staging");
        Path finalDir = releases.resolve(id);
        built = builder.build(staging, finalDir, m, store::get, reported::add);
        Files.move(staging, finalDir);
        return finalDir;
    }

    /** Expects the build to fail with an InstallException and checks staging is gone. */
    InstallException fails(Manifest m) {
        Path staging = releases.resolve(".failing.staging");
        InstallException e = assertThrows(InstallException.class,
                () -> builder.build(staging, releases.resolve("failing"), m, store::get, reported::add));
        if (Files.exists(staging)) {
            throw new AssertionError("staging " + staging + " left behind after failure");
        }
        return e;
    }

    /** The unpacks under a wheel cache's {@code .tmp} (being unpacked, pending, or left by a crash), sorted. */
    static List<Path> unpackDirs(Path cacheRoot) throws IOException {
        Path t = cacheRoot.resolve("wheels/.tmp");
        if (!Files.isDirectory(t)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(t)) {
            return s.sorted().toList();
        }
    }

    /** Runs a command with a 60 s bound and returns stdout+stderr; fails on a non-zero exit. */
    static String run(String... cmd) throws IOException {
        return TestWheels.run(List.of(cmd));
    }
}

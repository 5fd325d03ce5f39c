package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.ScratchDir;
import dev.pinfleet.controller.config.AppSpec;
import dev.pinfleet.controller.publish.PublishTarget;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.pack.DirectoryZip;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * An app's code archives as ARCHIVE artifacts: each directory packed into a deterministic zip (a {@code .zip} taken
 * as it is), named {@code APP-NAME-<first 12 hex of its sha256>.zip} (so unchanged code frozen again is the same
 * published file, and changed code a new one), published to the mirror with the mirror's checks and audit line, and
 * pinned by its sha256 and size.
 */
final class AppArchives {
    private AppArchives() {}

    /** Publishes {@code archives} of {@code app} to {@code target} as {@code user}; the artifacts in the same order. */
    static List<Artifact> publish(String app, List<AppSpec.Archive> archives, PublishTarget target, String user) {
        if (archives.isEmpty()) {
            return List.of();
        }
        if (user == null) {
            throw new CliException("app " + app + " has code archives to publish to " + target.describe()
                    + ": give --as USER (or 'as:' in pinfleet.yml), who has signed off the mirror's policy", 2);
        }
        try (ScratchDir scratch = ScratchDir.create("pinfleet-archives")) {
            List<Path> files = new ArrayList<>();
            for (AppSpec.Archive a : archives) {
                files.add(build(app, a, scratch.path()));
            }
            List<PublishResult> published = target.publish(files, user);
            List<Artifact> out = new ArrayList<>();
            for (int i = 0; i < archives.size(); i++) {
                AppSpec.Archive a = archives.get(i);
                PublishResult r = published.get(i);
                String filename = files.get(i).getFileName().toString();
                out.add(Artifact.newBuilder().setName(a.name()).setVersion(r.sha256().substring(0, 12))
                        .setFilename(filename).setPath(r.file()).setSha256(r.sha256()).setSize(r.size())
                        .setKind(ArtifactKind.ARCHIVE).setInstallPath(a.installPath()).build());
            }
            return out;
        } catch (IOException e) {
            throw new CliException("app " + app + ": cannot publish its code archives to " + target.describe() + ": "
                    + e.getMessage());
        }
    }

    private static Path build(String app, AppSpec.Archive a, Path scratch) throws IOException {
        Path zip = scratch.resolve(a.name() + ".zip.tmp");
        if (Files.isDirectory(a.path())) {
            try (OutputStream out = Files.newOutputStream(zip)) {
                DirectoryZip.pack(a.path(), out);
            }
        } else if (Files.isRegularFile(a.path()) && a.path().getFileName().toString().endsWith(".zip")) {
            Files.copy(a.path(), zip);
        } else {
            throw new IOException("archive " + a.name() + " (line " + a.line() + "): " + a.path()
                    + (Files.exists(a.path()) ? " is neither a directory nor a .zip" : " does not exist"));
        }
        String sha = Hashing.sha256Hex(zip);
        return Files.move(zip, scratch.resolve(app + "-" + a.name() + "-" + sha.substring(0, 12) + ".zip"),
                StandardCopyOption.ATOMIC_MOVE);
    }
}

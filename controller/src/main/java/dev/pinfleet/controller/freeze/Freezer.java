package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** Resolves each exact pin to one wheel the mirror holds, with its sha256 and size. */
public final class Freezer {
    private final MirrorCatalog mirror;
    private final Predicate<WheelFilename> compatible;
    private final String targetDescription;

    /**
     * @param compatible which wheels suit the target interpreter and platform
     * @param targetDescription the target as said in errors, e.g. "Python 3.11 on linux x86_64"
     */
    public Freezer(MirrorCatalog mirror, Predicate<WheelFilename> compatible, String targetDescription) {
        this.mirror = mirror;
        this.compatible = compatible;
        this.targetDescription = targetDescription;
    }

    public List<Artifact> freeze(List<Requirement> requirements) {
        Map<String, String> seen = new HashMap<>();
        List<Artifact> out = new ArrayList<>();
        for (Requirement r : requirements) {
            String project = Names.normalizeProject(r.name());
            String earlier = seen.putIfAbsent(project, r.source());
            if (earlier != null) {
                throw new CliException(r.source() + ": " + r.name() + " is already pinned at " + earlier);
            }
            out.add(resolve(r, project));
        }
        return out;
    }

    private Artifact resolve(Requirement r, String project) {
        List<MirrorFile> files;
        try {
            files = mirror.files(project);
        } catch (IOException e) {
            throw new CliException(r.source() + ": " + r.name() + "==" + r.version() + ": mirror " + mirror.describe()
                    + " failed: " + e.getMessage());
        }
        List<MirrorFile> wheels = new ArrayList<>();
        List<String> otherFiles = new ArrayList<>();
        List<String> incompatible = new ArrayList<>();
        for (MirrorFile f : files) {
            if (!f.filename().endsWith(".whl")) {
                if (f.filename().contains("-" + r.version() + ".")) {
                    otherFiles.add(f.filename());
                }
                continue;
            }
            WheelFilename w;
            try {
                w = WheelFilename.parse(f.filename());
            } catch (IllegalArgumentException e) {
                continue;
            }
            if (!w.isFor(r.name(), r.version())) {
                continue;
            }
            if (compatible.test(w)) {
                wheels.add(f);
            } else {
                incompatible.add(f.filename());
            }
        }
        if (wheels.isEmpty()) {
            String why = "no wheel for " + r.name() + "==" + r.version() + " on mirror " + mirror.describe();
            if (!incompatible.isEmpty()) {
                why += "; wheels there do not suit " + targetDescription + ": " + incompatible;
            } else if (!otherFiles.isEmpty()) {
                why += "; only " + otherFiles + " (source distributions are not installed by pinfleet; publish a wheel)";
            }
            throw new CliException(r.source() + ": " + why);
        }
        if (!r.hashes().isEmpty()) {
            wheels.removeIf(f -> !r.hashes().contains(f.sha256()));
            if (wheels.isEmpty()) {
                throw new CliException(r.source() + ": " + r.name() + "==" + r.version() + ": no file on mirror "
                        + mirror.describe() + " has a sha256 listed by --hash " + r.hashes());
            }
        }
        // Prefer the most specific wheel (a platform wheel over a pure one), then a stable order.
        wheels.sort(Comparator.comparing((MirrorFile f) -> f.filename().endsWith("-any.whl")).thenComparing(MirrorFile::filename));
        MirrorFile f = wheels.get(0);
        return Artifact.newBuilder()
                .setName(r.name())
                .setVersion(r.version())
                .setFilename(f.filename())
                .setPath(f.path())
                .setSha256(f.sha256())
                .setSize(f.size())
                .setKind(ArtifactKind.WHEEL)
                .build();
    }
}

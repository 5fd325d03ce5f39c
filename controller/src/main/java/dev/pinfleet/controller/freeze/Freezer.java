package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.WheelFilename;
import dev.pinfleet.wheel.WheelMetadata;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;

/**
 * Resolves each pin to one wheel the mirror holds, with its sha256 and size: the wheel of exactly that
 * version (PEP 440 equality, local label included) that suits the target interpreter and platform,
 * preferring a platform wheel over a pure one; for a git pin, the one version whose local label is the
 * commit's ({@link VcsPin}). When the pin lists {@code --hash} values, the chosen file's bytes must have one
 * of them. Only the chosen file is fetched; it is checked as every agent checks a wheel, and its METADATA must
 * name the pin's project and version.
 */
public final class Freezer {
    private final MirrorCatalog mirror;
    private final Predicate<WheelFilename> compatible;
    private final String targetDescription;
    private final InstallScheme scheme;
    private final int parallelism;

    /**
     * One resolved pin.
     *
     * @param requirement what was written
     * @param version     the exact version pinned (a git pin's is the wheel's, e.g. {@code 1.4.0+g0123456789ab})
     * @param file        the mirror's file, hashed and checked, with its METADATA and what it installs
     */
    public record Pinned(Requirement requirement, String version, MirrorFile file) {

        /** The manifest entry. */
        public Artifact toArtifact() {
            return Artifact.newBuilder()
                    .setName(requirement.name())
                    .setVersion(version)
                    .setFilename(file.filename())
                    .setPath(file.path())
                    .setSha256(file.sha256())
                    .setSize(file.size())
                    .setKind(ArtifactKind.WHEEL)
                    .build();
        }

        /** The pin as said in messages, e.g. {@code requests[socks]==2.34.2}. */
        public String describe() {
            Set<String> x = requirement.extras();
            return requirement.name() + (x.isEmpty() ? "" : "[" + String.join(",", x) + "]") + "==" + version;
        }
    }

    /**
     * What {@link #resolveAll} found.
     *
     * @param pins     the pins that resolved, in order
     * @param problems every pin that did not (file:line first), in order
     */
    public record Result(List<Pinned> pins, List<String> problems) {}

    /**
     * @param compatible        which wheels suit the target interpreter and platform
     * @param targetDescription the target as said in errors, e.g. "cp 3.11 (abi cp311, platforms …)"
     * @param scheme            where the target's virtualenv installs a wheel's files
     */
    public Freezer(MirrorCatalog mirror, Predicate<WheelFilename> compatible, String targetDescription,
            InstallScheme scheme) {
        this(mirror, compatible, targetDescription, scheme, DEFAULT_PARALLELISM);
    }

    /** Pins looked up at once by default: enough to hide a loopback or LAN round trip, few for the mirror. */
    public static final int DEFAULT_PARALLELISM = 8;

    /** As above, resolving up to {@code parallelism} (at least 1) pins at once. */
    public Freezer(MirrorCatalog mirror, Predicate<WheelFilename> compatible, String targetDescription,
            InstallScheme scheme, int parallelism) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism " + parallelism + " is below 1");
        }
        this.parallelism = parallelism;
        this.mirror = mirror;
        this.compatible = compatible;
        this.targetDescription = targetDescription;
        this.scheme = scheme;
    }

    /**
     * Resolves every pin, going on after a pin that fails so that every problem is found at once; results and
     * problems come in the pins' order. A project pinned twice, under any spelling, is a problem naming both
     * places. Up to {@code parallelism} pins are looked up and their wheels fetched and checked at once: each pin
     * is one index request and one download, so a long requirements file waits on round trips, not on CPU.
     */
    public Result resolveAll(List<Requirement> requirements) {
        Map<String, Requirement> seen = new HashMap<>();
        List<Slot> slots = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallelism, requirements.size())),
                r -> {
                    Thread t = new Thread(r, "freeze-lookup");
                    t.setDaemon(true);
                    return t;
                });
        try {
            for (Requirement r : requirements) {
                String project = Names.normalizeProject(r.name());
                Requirement earlier = seen.putIfAbsent(project, r);
                if (earlier != null) {
                    slots.add(new Slot(r.source() + ": " + r.name() + " is already pinned at " + earlier.source()
                            + (earlier.name().equals(r.name()) ? "" : " as " + earlier.name() + " (one project, "
                            + project + ", under two spellings)"), null));
                } else {
                    slots.add(new Slot(null, pool.submit(() -> resolve(r, project))));
                }
            }
            List<Pinned> out = new ArrayList<>();
            List<String> problems = new ArrayList<>();
            for (Slot slot : slots) {
                if (slot.problem() != null) {
                    problems.add(slot.problem());
                    continue;
                }
                try {
                    out.add(slot.lookup().get());
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof MirrorDown down) {
                        throw down; // every other pin would fail the same way: one message, not one per pin
                    } else if (e.getCause() instanceof CliException ce) {
                        problems.add(ce.getMessage());
                    } else if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    } else {
                        throw new IllegalStateException(e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new CliException("interrupted while resolving pins against mirror " + mirror.describe());
                }
            }
            return new Result(out, problems);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One pin's place in the results: a problem found before any lookup, or the lookup under way. */
    private record Slot(String problem, Future<Pinned> lookup) {}

    /** {@link #resolveAll}, failing with every problem (the problem alone when there is one). */
    public List<Pinned> freeze(List<Requirement> requirements) {
        Result r = resolveAll(requirements);
        if (r.problems().size() == 1) {
            throw new CliException(r.problems().get(0));
        }
        if (!r.problems().isEmpty()) {
            throw new CliException(r.problems().size() + " problem(s):\n  " + String.join("\n  ", r.problems()));
        }
        return r.pins();
    }

    private Pinned resolve(Requirement r, String project) {
        List<MirrorCatalog.Listing> files;
        try {
            files = mirror.list(project);
        } catch (MirrorCatalog.Unreachable e) {
            throw new MirrorDown(e.getMessage());
        } catch (IOException e) {
            throw new CliException(r.source() + ": " + r.describe() + ": mirror " + mirror.describe() + " failed: "
                    + dev.pinfleet.fs.IoErrors.describe(e));
        }
        String version = r.vcs() == null ? r.version() : versionForCommit(r, files);
        Pep440Version wanted = Pep440Version.tryParse(version);
        List<MirrorCatalog.Listing> wheels = new ArrayList<>();
        List<String> otherFiles = new ArrayList<>();
        List<String> incompatible = new ArrayList<>();
        for (MirrorCatalog.Listing f : files) {
            if (!f.filename().endsWith(".whl")) {
                if (f.filename().contains("-" + version + ".")) {
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
            if (!isVersion(w, wanted, version)) {
                continue;
            }
            if (compatible.test(w)) {
                wheels.add(f);
            } else {
                incompatible.add(f.filename());
            }
        }
        String pin = r.name() + "==" + version;
        if (wheels.isEmpty()) {
            String why = "no wheel for " + pin + " on mirror " + mirror.describe();
            if (files.isEmpty()) {
                why = "no project '" + r.name() + "' on mirror " + mirror.describe() + closeNames(project);
            } else if (incompatible.isEmpty() && otherFiles.isEmpty()) {
                why += "; it has " + r.name() + " " + versions(files);
            }
            if (!incompatible.isEmpty()) {
                why += "; wheels there do not suit " + targetDescription + ": " + incompatible;
            } else if (!otherFiles.isEmpty()) {
                why += "; only " + otherFiles + " (source distributions are not installed by pinfleet; publish a wheel)";
            }
            throw new CliException(r.source() + ": " + why);
        }
        // Prefer the most specific wheel (a platform wheel over a pure one), then a stable order.
        wheels.sort(Comparator.comparing((MirrorCatalog.Listing f) -> f.filename().endsWith("-any.whl"))
                .thenComparing(MirrorCatalog.Listing::filename));
        List<String> seen = new ArrayList<>();
        if (!r.hashes().isEmpty()) {
            for (MirrorCatalog.Listing f : wheels) {
                if (!f.claimedSha256().isEmpty() && !r.hashes().contains(f.claimedSha256())) {
                    seen.add(f.filename() + " sha256:" + f.claimedSha256());
                }
            }
            wheels.removeIf(f -> !f.claimedSha256().isEmpty() && !r.hashes().contains(f.claimedSha256()));
        }
        for (MirrorCatalog.Listing l : wheels) {
            MirrorFile f;
            try {
                f = mirror.fetch(l, scheme);
            } catch (IOException e) {
                throw new CliException(r.source() + ": " + pin + ": mirror " + mirror.describe() + ": " + e.getMessage());
            }
            if (!r.hashes().isEmpty() && !r.hashes().contains(f.sha256())) {
                seen.add(f.filename() + " sha256:" + f.sha256());
                continue;
            }
            checkMetadata(r, version, f);
            return new Pinned(r, version, f);
        }
        throw new CliException(r.source() + ": " + pin + ": no file on mirror " + mirror.describe()
                + " has a sha256 listed by --hash " + r.hashes()
                + (seen.isEmpty() ? "" : "; the mirror's suitable wheels have " + seen)
                + ". A hash that disagrees with the mirror means the file changed or the pin is for other bytes");
    }

    /** "; did you mean …" with the mirror's projects close to {@code project}, or a hint when none is. */
    private String closeNames(String project) {
        List<String> all;
        try {
            all = mirror.projects();
        } catch (IOException e) {
            return "";
        }
        List<String> close = all.stream().filter(p -> !p.equals(project) && (p.startsWith(project) || project.startsWith(p)
                || distance(p, project) <= Math.max(1, project.length() / 4))).sorted().limit(5).toList();
        return close.isEmpty() ? "; check the name, or publish it (`pinfleet mirror publish` or `import-venv`)"
                : "; did you mean " + String.join(", ", close) + "?";
    }

    /** The versions of the wheels listed, sorted, for "it has …". */
    private static String versions(List<MirrorCatalog.Listing> files) {
        java.util.TreeSet<String> v = new java.util.TreeSet<>();
        for (MirrorCatalog.Listing f : files) {
            try {
                v.add(WheelFilename.parse(f.filename()).version());
            } catch (IllegalArgumentException e) {
                // not a wheel: not installable, so not offered
            }
        }
        return v.isEmpty() ? "no wheel at all" : "only " + String.join(", ", v);
    }

    /** Levenshtein distance: how many one-letter edits turn {@code a} into {@code b}. */
    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** Whether wheel {@code w} is of {@code version} (PEP 440 equality, local label included; {@code wanted} its parse or null). */
    public static boolean isVersion(WheelFilename w, Pep440Version wanted, String version) {
        String fileVersion = w.version().replace('_', '-');
        Pep440Version v = Pep440Version.tryParse(fileVersion);
        if (v != null && wanted != null) {
            return v.equals(wanted) && v.local().equals(wanted.local());
        }
        return w.version().equals(version.replace('-', '_'));
    }

    /** The one version on the mirror whose local label names the pin's commit. */
    private String versionForCommit(Requirement r, List<MirrorCatalog.Listing> files) {
        String label = r.vcs().localLabel();
        TreeSet<String> versions = new TreeSet<>();
        for (MirrorCatalog.Listing f : files) {
            if (!f.filename().endsWith(".whl")) {
                continue;
            }
            try {
                WheelFilename w = WheelFilename.parse(f.filename());
                Pep440Version v = Pep440Version.tryParse(w.version().replace('_', '-'));
                if (v != null && v.local().equals(List.of(label))) {
                    versions.add(v.toString());
                }
            } catch (IllegalArgumentException notAWheelName) {
                // not listed as a candidate
            }
        }
        if (versions.isEmpty()) {
            throw new CliException(r.source() + ": " + r.name() + " @ commit " + r.vcs().commit() + ": mirror "
                    + mirror.describe() + " has no wheel built from that commit; publish one whose version carries "
                    + "the local label +" + label + " (e.g. " + Names.wheelEscape(r.name()) + "-1.0.0+" + label
                    + "-py3-none-any.whl)");
        }
        if (versions.size() > 1) {
            throw new CliException(r.source() + ": " + r.name() + " @ commit " + r.vcs().commit() + ": mirror "
                    + mirror.describe() + " has several versions built from that commit: " + versions
                    + "; pin one of them with ==");
        }
        return versions.first();
    }

    private static void checkMetadata(Requirement r, String version, MirrorFile f) {
        WheelMetadata m = f.metadata();
        Pep440Version mv = Pep440Version.tryParse(m.version());
        Pep440Version pv = Pep440Version.tryParse(version);
        boolean versionOk = mv != null && pv != null ? mv.equals(pv) && mv.local().equals(pv.local())
                : m.version().equals(version);
        if (!Names.normalizeProject(m.name()).equals(Names.normalizeProject(r.name())) || !versionOk) {
            throw new CliException(r.source() + ": " + f.path() + ": its METADATA says " + m.name() + " " + m.version()
                    + ", not " + r.name() + " " + version);
        }
    }

    /** The mirror could not be asked at all. */
    static final class MirrorDown extends CliException {
        private static final long serialVersionUID = 1L;

        MirrorDown(String message) {
            super(message);
        }
    }
}

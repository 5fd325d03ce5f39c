package dev.pinfleet.agent.deploy;

import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fs.Durable;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Logger;

/** The releases of every app on this node: the `current` link, recovery after a crash, garbage collection. */
public final class Releases {
    private static final Logger LOG = Logger.getLogger(Releases.class.getName());
    /** Inside each release: the signed manifest it was built from. */
    static final String MANIFEST_FILE = ".pinfleet/manifest.signed.json";

    private final Path root;
    private final int keep;
    private final ContentStore store;
    private final ReleaseBuilder builder;

    public Releases(Path root, int keep, ContentStore store, ReleaseBuilder builder) {
        this.root = root;
        this.keep = keep;
        this.store = store;
        this.builder = builder;
    }

    public List<String> apps() throws IOException {
        Path apps = root.resolve("apps");
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(apps)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(apps)) {
            for (Path p : ds) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p.getFileName().toString());
                }
            }
        }
        out.sort(null);
        return out;
    }

    /** Release id `current` points at, or null when the app has none. */
    public String currentRelease(AppLayout layout) throws IOException {
        if (!Files.isSymbolicLink(layout.current())) {
            return null;
        }
        return Files.readSymbolicLink(layout.current()).getFileName().toString();
    }

    public void writeManifest(Path release, SignedManifest envelope) throws IOException {
        Path f = release.resolve(MANIFEST_FILE);
        Files.createDirectories(f.getParent());
        Files.writeString(f, JsonFormat.printer().print(envelope) + "\n", StandardCharsets.UTF_8);
    }

    /** Swaps `current` to a complete release (relative link, so the app directory can move). */
    public void switchTo(AppLayout layout, String id) throws IOException {
        Path target = layout.release(id);
        if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("release " + target + " does not exist");
        }
        Files.setLastModifiedTime(target, FileTime.fromMillis(System.currentTimeMillis()));
        Durable.swapSymlink(layout.current(), layout.dir().relativize(target));
    }

    /** Release ids on disk, most recently switched to first. */
    public List<String> list(AppLayout layout) throws IOException {
        List<Path> dirs = new ArrayList<>();
        if (Files.isDirectory(layout.releases())) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.releases())) {
                for (Path p : ds) {
                    if (!p.getFileName().toString().startsWith(".") && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        dirs.add(p);
                    }
                }
            }
        }
        dirs.sort(Comparator.comparing((Path p) -> {
            try {
                return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
            } catch (IOException e) {
                return FileTime.fromMillis(0);
            }
        }).reversed());
        List<String> out = new ArrayList<>();
        for (Path p : dirs) {
            out.add(p.getFileName().toString());
        }
        return out;
    }

    /**
     * At start: removes half-built releases (a crash mid-install) and makes each app's state agree
     * with `current`, which only ever points at a complete release.
     */
    public void recover() throws IOException {
        for (String app : apps()) {
            AppLayout layout = AppLayout.of(root, app);
            if (Files.isDirectory(layout.releases())) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.releases(), ".staging-*")) {
                    for (Path p : ds) {
                        LOG.info("removing half-built release " + p);
                        Durable.deleteTree(p);
                    }
                }
            }
            String cur = currentRelease(layout);
            AppStatus s = StateStore.read(layout, app);
            if (cur != null && !cur.equals(s.getRelease())) {
                Manifest m = manifestOf(layout.release(cur));
                StateStore.write(layout, s.toBuilder().setRelease(cur)
                        .setManifestDigest(m == null ? "" : ManifestCodec.contentDigest(m)).build());
                LOG.info("app " + app + ": state said release " + s.getRelease() + ", current is " + cur + "; state updated");
            }
        }
    }

    /**
     * Keeps the newest {@code keep} releases and never the current or previous one; then frees
     * store and cache entries that no release of any app still references.
     */
    public void collectGarbage(AppLayout layout, String current, String previous) throws IOException {
        List<String> ids = list(layout);
        int kept = 0;
        for (String id : ids) {
            boolean protectedId = id.equals(current) || id.equals(previous);
            if (protectedId || kept < keep) {
                kept++;
                continue;
            }
            LOG.info("removing old release " + layout.release(id));
            Durable.deleteTree(layout.release(id));
        }
        Set<String> referenced = new HashSet<>();
        for (String app : apps()) {
            AppLayout l = AppLayout.of(root, app);
            for (String id : list(l)) {
                Manifest m = manifestOf(l.release(id));
                if (m == null) {
                    return; // unreadable release: keep everything rather than guess
                }
                for (Artifact a : m.getArtifactsList()) {
                    referenced.add(a.getSha256());
                }
            }
        }
        store.prune(referenced);
        builder.pruneCache(referenced);
    }

    /** The manifest a release was built from (written by this agent after verification), or null. */
    static Manifest manifestOf(Path release) {
        Path f = release.resolve(MANIFEST_FILE);
        try {
            SignedManifest.Builder b = SignedManifest.newBuilder();
            JsonFormat.parser().merge(Files.readString(f, StandardCharsets.UTF_8), b);
            return ManifestCodec.parse(b.getPayload().toByteArray());
        } catch (IOException | ManifestException e) {
            LOG.warning("release " + release + ": cannot read its manifest: " + e.getMessage());
            return null;
        }
    }
}

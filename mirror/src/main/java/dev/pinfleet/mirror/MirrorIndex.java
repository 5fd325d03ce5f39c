package dev.pinfleet.mirror;

import dev.pinfleet.fs.Durable;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.wheel.WheelMetadata;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/**
 * The simple index of a mirror directory. It scans {@code DIR/packages/<project>/<file>} and writes the
 * static PEP 503 pages {@code DIR/simple/index.html} and {@code DIR/simple/<project>/index.html}, each
 * atomically and only when its content changed, so nginx can serve DIR as is.
 *
 * <p>Hashing every file on every rebuild would make a publish cost the size of the whole mirror, so the
 * sha256 and Requires-Python of each file are cached by (path, size, mtime): in memory, and in
 * {@code DIR/.pinfleet-index-cache}, which {@link #rebuild()} writes and any instance reads, so a rebuild
 * after one publish hashes one file. Only {@link #rebuild()} writes; {@link #projects()} and
 * {@link #files(String)} only read, which suits a server running as a read-only user. Thread-safe.
 */
public final class MirrorIndex {
    /** Directory of published files: {@code packages/<normalized project>/<file>}. */
    public static final String PACKAGES = "packages";
    /** Directory of the static PEP 503 index. */
    public static final String SIMPLE = "simple";
    /** File name of every index page. */
    public static final String INDEX_HTML = "index.html";
    /** Digest cache in the mirror directory. */
    public static final String CACHE_FILE = ".pinfleet-index-cache";

    private static final Logger LOG = Logger.getLogger(MirrorIndex.class.getName());
    private static final Pattern NORMALIZED = Pattern.compile("[a-z0-9]([a-z0-9-]{0,198}[a-z0-9])?");
    private static final String CACHE_HEADER = "pinfleet-index-cache 1";

    private record Cached(long size, long mtimeNanos, String sha256, String requiresPython) {}

    private final Path dir;
    private final Map<String, Cached> cache = new ConcurrentHashMap<>();
    private volatile FileTime loadedCacheTime;

    /** An index over {@code dir}; reads the digest cache if there is one. */
    public MirrorIndex(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
        reloadCacheIfChanged();
    }

    /** The mirror directory. */
    public Path dir() {
        return dir;
    }

    /** Rebuilds the static index of {@code dir} (see {@link #rebuild()}). */
    public static void rebuild(Path dir) throws IOException {
        new MirrorIndex(dir).rebuild();
    }

    /**
     * Scans {@code packages/} and writes the static index under {@code simple/}: a page per project that has
     * files, the root page listing them, and removes pages of projects that no longer have any. Holds the
     * mirror's {@link MirrorLock} throughout, so a concurrent publish cannot be missed.
     */
    public void rebuild() throws IOException {
        Files.createDirectories(dir);
        MirrorLock lock = MirrorLock.acquire(dir);
        try {
            SortedMap<String, List<IndexedFile>> projects = projects();
            Path simple = dir.resolve(SIMPLE);
            Files.createDirectories(simple);
            int written = 0;
            for (Map.Entry<String, List<IndexedFile>> e : projects.entrySet()) {
                byte[] page = SimplePages.projectHtml(e.getKey(), e.getValue()).getBytes(StandardCharsets.UTF_8);
                if (Durable.writeIfChanged(simple.resolve(e.getKey()).resolve(INDEX_HTML), page)) {
                    written++;
                }
            }
            removeStalePages(simple, projects.keySet());
            byte[] root = SimplePages.rootHtml(projects.keySet()).getBytes(StandardCharsets.UTF_8);
            if (Durable.writeIfChanged(simple.resolve(INDEX_HTML), root)) {
                written++;
            }
            saveCache(projects);
            int pages = written;
            LOG.fine(() -> "index of " + dir + ": " + projects.size() + " projects, " + pages + " pages written");
        } finally {
            lock.close();
        }
    }

    /**
     * Every project under {@code packages/} with at least one file, by normalized name, each with its files
     * sorted by file name. Directories whose name is not a normalized project name are skipped.
     */
    public SortedMap<String, List<IndexedFile>> projects() throws IOException {
        SortedMap<String, List<IndexedFile>> out = new TreeMap<>();
        Path packages = dir.resolve(PACKAGES);
        if (!Files.isDirectory(packages)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(packages)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith(".") || !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (!isNormalizedProject(name)) {
                    LOG.warning(() -> "skipping " + p + ": not a PEP 503 normalized project name");
                    continue;
                }
                List<IndexedFile> files = files(name);
                if (!files.isEmpty()) {
                    out.put(name, files);
                }
            }
        }
        return out;
    }

    /**
     * The files of one project, sorted by file name; empty when the project has none. Dot-files (temporary
     * files of a publish in progress), symbolic links, non-files and apps' code archives ({@code .zip}) are not listed.
     *
     * @param project a normalized project name
     * @throws IllegalArgumentException when {@code project} is not a normalized project name
     */
    public List<IndexedFile> files(String project) throws IOException {
        if (!isNormalizedProject(project)) {
            throw new IllegalArgumentException("'" + Names.printable(project)
                    + "' is not a PEP 503 normalized project name");
        }
        Path projectDir = dir.resolve(PACKAGES).resolve(project);
        if (!Files.isDirectory(projectDir, LinkOption.NOFOLLOW_LINKS)) {
            return List.of();
        }
        List<IndexedFile> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(projectDir)) {
            for (Path f : ds) {
                String name = f.getFileName().toString();
                if (name.startsWith(".") || Names.checkFileName(name) != null || !lists(name)) {
                    continue;
                }
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException gone) {
                    continue;
                }
                if (a.isRegularFile()) {
                    out.add(describe(project, name, f, a));
                }
            }
        }
        out.sort(Comparator.comparing(IndexedFile::filename));
        return Collections.unmodifiableList(out);
    }

    /**
     * Whether the simple index lists a published file of this name: every file but an app's code archive
     * ({@code .zip}), which agents fetch by its path and pip never installs.
     */
    public static boolean lists(String fileName) {
        return !fileName.endsWith(".zip");
    }

    /** True for a PEP 503 normalized project name that is also a safe single path component. */
    public static boolean isNormalizedProject(String name) {
        return name != null && NORMALIZED.matcher(name).matches();
    }

    private IndexedFile describe(String project, String name, Path file, BasicFileAttributes a) throws IOException {
        String rel = PACKAGES + "/" + project + "/" + name;
        long size = a.size();
        long mtime = a.lastModifiedTime().to(TimeUnit.NANOSECONDS);
        Cached c = cache.get(rel);
        if (c == null || c.size() != size || c.mtimeNanos() != mtime) {
            reloadCacheIfChanged();
            c = cache.get(rel);
        }
        if (c == null || c.size() != size || c.mtimeNanos() != mtime) {
            c = new Cached(size, mtime, Hashing.sha256Hex(file), requiresPython(file, name));
            cache.put(rel, c);
        }
        return new IndexedFile(project, name, size, c.sha256(), c.requiresPython());
    }

    /**
     * The Requires-Python of a wheel's METADATA as the index lists it: the empty string for files that are
     * not wheels, wheels without the header, and wheels whose METADATA cannot be read (logged).
     */
    public static String requiresPython(Path file, String name) {
        if (!name.endsWith(".whl")) {
            return "";
        }
        try {
            return WheelMetadata.read(file).requiresPython();
        } catch (IOException e) {
            LOG.warning(() -> "cannot read METADATA of " + file + ", listing it without Requires-Python: "
                    + e.getMessage());
            return "";
        }
    }

    private void removeStalePages(Path simple, Set<String> live) throws IOException {
        List<Path> stale = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(simple)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (isNormalizedProject(name) && !live.contains(name)
                        && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    stale.add(p);
                }
            }
        }
        for (Path p : stale) {
            Files.deleteIfExists(p.resolve(INDEX_HTML));
            try {
                Files.deleteIfExists(p);
            } catch (DirectoryNotEmptyException e) {
                LOG.warning(() -> "stale index directory " + p + " holds more than index.html; left in place");
            }
        }
    }

    private void reloadCacheIfChanged() {
        Path file = dir.resolve(CACHE_FILE);
        try {
            FileTime t = Files.getLastModifiedTime(file);
            if (t.equals(loadedCacheTime)) {
                return;
            }
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            if (lines.isEmpty() || !lines.get(0).equals(CACHE_HEADER)) {
                LOG.warning(() -> file + " has an unknown format; ignored (it is rewritten on the next rebuild)");
                loadedCacheTime = t;
                return;
            }
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.split("\t", -1);
                if (f.length != 5 || !Hashing.isSha256Hex(f[3])) {
                    continue;
                }
                try {
                    cache.put(f[0], new Cached(Long.parseLong(f[1]), Long.parseLong(f[2]), f[3], f[4]));
                } catch (NumberFormatException ignored) {
                    // a damaged line only costs one re-hash
                }
            }
            loadedCacheTime = t;
        } catch (NoSuchFileException e) {
            // no cache yet: everything is hashed once
        } catch (IOException e) {
            LOG.warning(() -> "cannot read " + file + ": " + e.getMessage() + "; files will be re-hashed");
        }
    }

    private void saveCache(SortedMap<String, List<IndexedFile>> projects) throws IOException {
        StringBuilder b = new StringBuilder(CACHE_HEADER).append('\n');
        for (List<IndexedFile> files : projects.values()) {
            for (IndexedFile f : files) {
                Cached c = cache.get(f.relativePath());
                if (c != null) {
                    b.append(f.relativePath()).append('\t').append(c.size()).append('\t').append(c.mtimeNanos())
                            .append('\t').append(c.sha256()).append('\t')
                            .append(c.requiresPython().replaceAll("[\\t\\r\\n]", " ")).append('\n');
                }
            }
        }
        Path file = dir.resolve(CACHE_FILE);
        if (Durable.writeIfChanged(file, b.toString().getBytes(StandardCharsets.UTF_8))) {
            loadedCacheTime = Files.getLastModifiedTime(file);
        }
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SharedPath;
import dev.pinfleet.wheel.Tags;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.logging.Logger;

/**
 * Builds release directories: a virtualenv skeleton plus every artifact of a manifest. Wheels are
 * unpacked once per sha256 into {@code cacheRoot/wheels/} and hard-linked into each release; the few
 * files that differ per release (rewritten scripts, entry point launchers, INSTALLER, RECORD) are
 * written per release. Unpacking may start before the build, as each wheel arrives in the store
 * ({@link #prepare}); one pool of {@code parallelism} threads unpacks (sharing large wheels), makes the
 * directories and links. Each build logs where its time went. Safe for concurrent builds into different
 * staging directories.
 */
public final class ReleaseBuilder {
    /** Written last (before the single flush) into every complete release; names the manifest's content digest. */
    public static final String MARKER = MarkerFile.PATH;

    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    private static final Logger LOG = Logger.getLogger(ReleaseBuilder.class.getName());
    /** Hard links made by one task: small enough to spread a big wheel over every thread. */
    static final int LINKS_PER_TASK = 256;

    private final Path cacheRoot;
    private final PythonInfo python;
    private final Tags tags;
    private final Set<String> skeletonDirs;
    private final ThreadPoolExecutor pool;
    private final WheelCache cache;
    private final Flusher flusher;
    private final PlanMemo memo;
    /** Builds share the cache (read lock); pruning it excludes them (write lock). */
    private final ReentrantReadWriteLock cacheLock = new ReentrantReadWriteLock();

    /**
     * @param cacheRoot the agent's cache directory ({@code ROOT/cache}); releases should live on the same file
     *     system so that files can be hard-linked
     * @param python the probed target interpreter
     * @param parallelism threads that unpack and link wheels (at least 1); large wheels are split among them
     */
    public ReleaseBuilder(Path cacheRoot, PythonInfo python, int parallelism) {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be at least 1, got " + parallelism);
        }
        this.cacheRoot = cacheRoot;
        this.python = python;
        this.tags = python.tags();
        this.skeletonDirs = Set.copyOf(VirtualEnv.directories(python));
        this.pool = Workers.pool(parallelism, "pinfleet-install");
        this.flusher = new Flusher(cacheRoot);
        this.cache = new WheelCache(cacheRoot, pool, flusher);
        this.memo = new PlanMemo(python, skeletonDirs);
    }

    /**
     * Starts unpacking a wheel into the cache in the background as soon as it is in the store, so that the build
     * that follows finds it ready (fetching and unpacking overlap). Does nothing for other artifact kinds, for a
     * wheel already cached or being unpacked, or for a file name that is not a wheel's; a wheel that cannot be
     * unpacked fails the build that uses it, with the same message.
     *
     * @param storeFile the verified file in the store
     */
    public void prepare(Artifact artifact, Path storeFile) {
        if (artifact.getKind() != ArtifactKind.WHEEL || !artifact.getFilename().endsWith(".whl")) {
            return;
        }
        try {
            cache.prepare(artifact.getSha256(), () -> storeFile, artifact.getFilename());
        } catch (IOException | RuntimeException e) {
            LOG.fine("cannot start unpacking " + artifact.getFilename() + " early: " + e.getMessage());
        }
    }

    /**
     * Drops the unpacks {@link #prepare} started that no build took (the deploy failed before its build): nothing
     * of a failed deploy stays under the cache's {@code .tmp}. A failed build drops its own.
     */
    public void discardPrepared() {
        cache.discardIdle();
    }

    /** Removes what a crash left half-done in the cache; call at start, before any build or prepare. */
    public void recover() throws IOException {
        cache.recover();
    }

    /**
     * Builds a complete release into {@code staging}, which must not exist (its parent must), whose final
     * location will be {@code finalDir}: shebangs, launchers and {@code pyvenv.cfg} name
     * {@code finalDir/bin/python}. Wheels are checked (file name vs manifest and METADATA, tags, every entry)
     * and unpacked into the cache in parallel (or taken from it), then linked; ARCHIVE and FILE artifacts are
     * extracted or copied to their install_path; bytecode is compiled when the manifest asks. The marker
     * {@link #MARKER} is written last and the file system flushed once; only then do the wheels this build
     * unpacked enter the cache under their sha256. On failure {@code staging} is removed.
     *
     * @param storePath maps an artifact's sha256 to its verified file in the store; called only for artifacts
     *     that must be read (a wheel already in the cache is not)
     * @param onEach called on the calling thread as each artifact is installed
     * @return one result per artifact, in manifest order, and the paths several artifacts ship identically
     * @throws InstallException when an artifact cannot be installed; the message names the file, entry and why
     */
    public BuildResult build(Path staging, Path finalDir, Manifest manifest, Function<String, Path> storePath,
            Consumer<InstallResult> onEach) throws InstallException, IOException {
        if (Files.exists(staging, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("staging directory " + staging + " already exists");
        }
        if (!manifest.getPython().equals(python.version())) {
            throw InstallException.failed("manifest is for python " + manifest.getPython() + " but the interpreter "
                    + python.executable() + " is " + python.version());
        }
        cacheLock.readLock().lock();
        List<WheelCache.Use> uses = new ArrayList<>();
        boolean synced = false;
        try {
            AppReadable.createDirectory(staging);
            try {
                BuildTimes t = new BuildTimes();
                BuildResult results = buildInto(staging, finalDir, manifest, storePath, onEach, uses, t);
                long t0 = BuildTimes.mark();
                Durability.syncTree(staging, cacheRoot);
                synced = true;
                t.add(BuildTimes.Step.SYNC, t0);
                LOG.info("built release " + finalDir.getFileName() + ": " + t);
                if (!results.sharedPaths().isEmpty()) {
                    LOG.info("release " + finalDir.getFileName() + ": " + results.sharedPaths().size()
                            + " path(s) shipped byte for byte the same by several artifacts, installed once: "
                            + results.sharedPaths().stream().map(SharedPath::getPath).toList());
                }
                return results;
            } catch (InstallException | IOException | RuntimeException | Error e) {
                FileTrees.deleteQuietly(staging);
                throw e;
            }
        } finally {
            cache.release(uses, synced);
            cacheLock.readLock().unlock();
        }
    }

    /**
     * Deletes cache entries whose sha256 is not in {@code keepSha256}, and leftovers of interrupted unpacks.
     * Waits for running builds to finish and holds further builds off while it runs.
     *
     * @return the number of cache entries removed
     */
    public long pruneCache(Set<String> keepSha256) throws IOException {
        cacheLock.writeLock().lock();
        try {
            memo.retain(keepSha256);
            return cache.prune(keepSha256);
        } finally {
            cacheLock.writeLock().unlock();
        }
    }

    /**
     * How many wheel unpacks the cache started since this builder was made, or -1 while one is still pending: the
     * cache grows only through them, so a {@link #pruneCache} with the same keep set at the same count (not -1) has
     * nothing to remove.
     */
    public long cacheUnpacks() {
        return cache.unpacks();
    }

    /** Bytes of unpacked wheels in the cache (releases hard-link these files rather than holding copies). */
    public long cacheBytes() throws IOException {
        return cache.totalBytes();
    }

    /**
     * The manifest content digest a release directory was completed for, or empty when the directory holds
     * no complete release (no marker, or an unreadable one).
     */
    public static Optional<String> completedDigest(Path releaseDir) {
        return MarkerFile.read(releaseDir).map(ReleaseMarker::getManifestDigest).filter(d -> HEX64.matcher(d).matches());
    }

    private BuildResult buildInto(Path staging, Path finalDir, Manifest manifest, Function<String, Path> storePath,
            Consumer<InstallResult> onEach, List<WheelCache.Use> uses, BuildTimes t)
            throws InstallException, IOException {
        List<BuildItem> items = new ArrayList<>(manifest.getArtifactsCount());
        List<BuildItem> wheels = new ArrayList<>();
        for (Artifact a : manifest.getArtifactsList()) {
            BuildItem item = new BuildItem(a);
            items.add(item);
            if (item.isWheel()) {
                checkWheelName(a);
                wheels.add(item);
            }
        }
        startUnpacks(wheels, storePath, uses); // they unpack while the skeleton is written
        t.wheels = wheels.size();
        long t0 = BuildTimes.mark();
        VirtualEnv.create(staging, finalDir, python);
        Set<String> reserved = VirtualEnv.reserved(python);
        t.add(BuildTimes.Step.VENV, t0);
        plan(wheels, reserved, uses, t);

        t0 = BuildTimes.mark();
        List<SharedPath> shared = PathOwnership.resolve(items, reserved, skeletonDirs,
                item -> ArchiveInstaller.claims(item.artifact, storeFile(item.artifact, storePath)));
        t.add(BuildTimes.Step.PLAN, t0);
        Workers workers = new Workers(pool);
        t0 = BuildTimes.mark();
        t.dirs = makeDirectories(staging, wheels, workers);
        t.add(BuildTimes.Step.MKDIR, t0);

        WheelInstaller installer = new WheelInstaller(staging, finalDir, python, new AtomicBoolean(false));
        t0 = BuildTimes.mark();
        t.files = link(wheels, installer, workers);
        t.add(BuildTimes.Step.LINK, t0);
        t0 = BuildTimes.mark();
        finish(wheels, installer, workers, onEach);
        t.add(BuildTimes.Step.FINISH, t0);

        t0 = BuildTimes.mark();
        for (BuildItem item : items) {
            if (!item.isWheel()) {
                long a0 = System.nanoTime();
                ArchiveInstaller.install(item.artifact, storeFile(item.artifact, storePath), staging, item.notOwned);
                item.result = new InstallResult(item.filename(), (System.nanoTime() - a0) / 1_000_000, false);
                onEach.accept(item.result);
            }
        }
        if (manifest.getCompileBytecode()) {
            BytecodeCompiler.compile(staging, finalDir, python);
        }
        writeMarker(staging, finalDir, manifest, items, shared);
        t.add(BuildTimes.Step.OTHER, t0);
        return new BuildResult(items.stream().map(i -> i.result).toList(), shared);
    }

    /** Every wheel not cached yet starts unpacking now (or already did, from {@link #prepare}); one hold per sha256. */
    private void startUnpacks(List<BuildItem> wheels, Function<String, Path> storePath, List<WheelCache.Use> uses)
            throws IOException {
        Map<String, WheelCache.Use> bySha = new HashMap<>();
        for (BuildItem w : wheels) {
            Artifact a = w.artifact;
            WheelCache.Use u = bySha.get(a.getSha256());
            if (u == null) {
                u = cache.obtain(a.getSha256(), () -> storeFile(a, storePath), a.getFilename());
                bySha.put(a.getSha256(), u);
                uses.add(u);
            }
            w.use = u;
        }
    }

    /** Waits for each wheel's unpack, in manifest order, and plans it. */
    private void plan(List<BuildItem> wheels, Set<String> reserved, List<WheelCache.Use> uses, BuildTimes t)
            throws InstallException, IOException {
        for (BuildItem w : wheels) {
            long w0 = BuildTimes.mark();
            WheelIndex index;
            try {
                index = w.use.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while unpacking " + w.filename(), e);
            }
            t.add(BuildTimes.Step.WAIT_UNPACK, w0);
            long p0 = BuildTimes.mark();
            w.plan = memo.plan(w.artifact, index, reserved);
            w.shape = memo.shape(w.plan, reserved);
            t.add(BuildTimes.Step.PLAN, p0);
        }
        for (WheelCache.Use u : uses) {
            if (u.pending != null) {
                t.unpacked++;
                t.unpackedBytes += u.index.join().files().stream().mapToLong(WheelIndex.FileEntry::size).sum();
            }
        }
        if (t.unpacked > 0) {
            flusher.kick(); // what was unpacked goes to disk while the release is linked
        }
    }

    /** Hard-links every wheel's cached files it owns, in batches spread over the pool; returns how many. */
    private static int link(List<BuildItem> wheels, WheelInstaller installer, Workers workers)
            throws InstallException, IOException {
        int files = 0;
        List<Workers.Task<Void>> tasks = new ArrayList<>();
        for (BuildItem w : wheels) {
            boolean[] owns = w.owns;
            List<WheelInstaller.Link> links = installer.links(w.plan, j -> owns[j]);
            files += links.size();
            for (int from = 0; from < links.size(); from += LINKS_PER_TASK) {
                List<WheelInstaller.Link> batch = links.subList(from, Math.min(links.size(), from + LINKS_PER_TASK));
                tasks.add(() -> {
                    long l0 = System.nanoTime();
                    boolean linked = installer.link(batch);
                    w.linked(System.nanoTime() - l0, linked);
                    return null;
                });
            }
        }
        workers.runAll(tasks, r -> { });
        return files;
    }

    /** Writes each wheel's per-release files (scripts, launchers, INSTALLER, RECORD); reports each wheel done. */
    private void finish(List<BuildItem> wheels, WheelInstaller installer, Workers workers, Consumer<InstallResult> onEach)
            throws InstallException, IOException {
        List<Workers.Task<InstallResult>> tasks = new ArrayList<>(wheels.size());
        for (BuildItem w : wheels) {
            boolean[] owns = w.owns;
            tasks.add(() -> {
                long f0 = System.nanoTime();
                installer.finish(w.plan, j -> owns[j], memo.linkRows(w.plan, installer));
                w.result = w.wheelResult(System.nanoTime() - f0);
                return w.result;
            });
        }
        workers.runAll(tasks, onEach);
    }

    private void checkWheelName(Artifact a) throws InstallException {
        WheelFilename wf;
        try {
            wf = WheelFilename.parse(a.getFilename());
        } catch (IllegalArgumentException e) {
            throw InstallException.of(a.getFilename(), e.getMessage());
        }
        if (!wf.isFor(a.getName(), a.getVersion())) {
            throw InstallException.of(a.getFilename(), "file name is not for " + a.getName() + " " + a.getVersion()
                    + " as the manifest pins");
        }
        String why = tags.whyIncompatible(wf);
        if (why != null) {
            throw InstallException.of(a.getFilename(), why);
        }
    }

    private static Path storeFile(Artifact a, Function<String, Path> storePath) throws InstallException, IOException {
        Path file = storePath.apply(a.getSha256());
        if (file == null || !Files.isRegularFile(file)) {
            throw InstallException.of(a.getFilename(), "sha256 " + a.getSha256() + " is not in the store"
                    + (file == null ? "" : " (" + file + ")"));
        }
        long size = Files.size(file);
        if (size != a.getSize()) {
            throw InstallException.of(a.getFilename(), "store file " + file + " has " + size + " bytes, the manifest says "
                    + a.getSize());
        }
        return file;
    }

    /**
     * Creates every directory the wheels need, each exactly once, parents first; returns how many. Separate
     * subtrees (a top-level package each) are made in parallel.
     */
    private int makeDirectories(Path staging, List<BuildItem> wheels, Workers workers) throws IOException, InstallException {
        List<PlanShape> shapes = new ArrayList<>(wheels.size());
        for (BuildItem w : wheels) {
            shapes.add(w.shape);
        }
        String[] sorted = PlanShape.union(shapes).toArray(new String[0]);
        Arrays.sort(sorted);
        // a subtree: the directories below the first one whose parent is in the skeleton
        Map<String, List<String>> subtrees = new LinkedHashMap<>();
        for (String d : sorted) {
            subtrees.computeIfAbsent(PlanShape.root(d, skeletonDirs), k -> new ArrayList<>()).add(d);
        }
        List<Workers.Task<Void>> tasks = new ArrayList<>(subtrees.size());
        for (List<String> subtree : subtrees.values()) {
            tasks.add(() -> {
                for (String d : subtree) {
                    AppReadable.createDirectory(staging.resolve(d));
                }
                return null;
            });
        }
        workers.runAll(tasks, r -> { });
        return sorted.length;
    }

    private void writeMarker(Path staging, Path finalDir, Manifest manifest, List<BuildItem> items,
            List<SharedPath> shared) throws IOException {
        ReleaseMarker.Builder m = ReleaseMarker.newBuilder().setManifestDigest(ManifestCodec.contentDigest(manifest))
                .setApp(manifest.getApp()).setSerial(manifest.getSerial()).setPython(python.fullVersion())
                .setFinalDir(finalDir.toString()).addAllSharedPaths(shared);
        for (BuildItem item : items) {
            m.addArtifacts(InstalledArtifact.newBuilder().setFilename(item.filename())
                    .setSha256(item.artifact.getSha256()).setInstallMillis(item.result.installMillis())
                    .setLinked(item.result.linked()));
        }
        MarkerFile.write(staging, m.build());
    }
}

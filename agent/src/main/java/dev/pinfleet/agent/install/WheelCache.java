package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.zip.Inflater;

/**
 * Wheels unpacked once per sha256 into {@code root/wheels/<ab>/<sha256>/} ({@code files/} plus an
 * {@code index}). Each is unpacked into {@code root/wheels/.tmp/} first and renamed into place, so a
 * half-unpacked entry is never seen. Every check that depends only on the wheel's bytes runs here,
 * once: entry names, zip structure, RECORD hashes, WHEEL and METADATA.
 */
final class WheelCache {
    private final Path wheels;
    private final Path tmp;

    WheelCache(Path cacheRoot) {
        this.wheels = cacheRoot.resolve("wheels");
        this.tmp = wheels.resolve(".tmp");
    }

    /** The cache entry of a sha256. */
    Path entryDir(String sha256) {
        return wheels.resolve(sha256.substring(0, 2)).resolve(sha256);
    }

    /** The cached index, or null when the wheel has not been unpacked. */
    WheelIndex lookup(String sha256) throws IOException {
        return WheelIndex.read(entryDir(sha256));
    }

    /** Unpacks a wheel (named {@code filename}, for messages) into the cache and returns its index. */
    WheelIndex unpack(String sha256, Path wheelFile, String filename) throws IOException, InstallException {
        Path target = entryDir(sha256);
        Files.createDirectories(tmp);
        Path work = tmp.resolve(sha256 + "-" + UUID.randomUUID());
        Files.createDirectory(work);
        try {
            WheelIndex index = extract(wheelFile, filename, work, target);
            index.write(work.resolve("index"));
            Files.createDirectories(target.getParent());
            WheelIndex existing = WheelIndex.read(target);
            if (existing != null) {
                FileTrees.delete(work);
                return existing;
            }
            FileTrees.delete(target);
            try {
                Files.move(work, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                WheelIndex other = WheelIndex.read(target);
                if (other == null) {
                    throw e;
                }
                FileTrees.delete(work);
                return other;
            }
            return new WheelIndex(target, index.distInfo(), index.name(), index.version(), index.purelib(), index.files());
        } catch (IOException | InstallException | RuntimeException e) {
            FileTrees.deleteQuietly(work);
            throw e;
        }
    }

    /** Deletes every entry whose sha256 is not in {@code keep}, and unpack leftovers; returns entries removed. */
    long prune(Set<String> keep) throws IOException {
        long removed = 0;
        if (!Files.isDirectory(wheels)) {
            return 0;
        }
        FileTrees.deleteQuietly(tmp);
        try (DirectoryStream<Path> prefixes = Files.newDirectoryStream(wheels)) {
            for (Path prefix : prefixes) {
                if (!Files.isDirectory(prefix)) {
                    continue;
                }
                try (DirectoryStream<Path> shas = Files.newDirectoryStream(prefix)) {
                    for (Path entry : shas) {
                        if (!keep.contains(entry.getFileName().toString())) {
                            FileTrees.delete(entry);
                            removed++;
                        }
                    }
                }
            }
        }
        return removed;
    }

    private static WheelIndex extract(Path wheelFile, String label, Path work, Path finalDir)
            throws IOException, InstallException {
        Inflater inflater = new Inflater(true);
        try (ZipArchive zip = ZipArchive.open(wheelFile, label)) {
            List<ZipArchive.Entry> entries = zip.entries();
            String distInfo = findDistInfo(entries, label);
            Map<String, ZipArchive.Entry> byName = new HashMap<>();
            for (ZipArchive.Entry e : entries) {
                byName.put(e.name(), e);
            }
            Map<String, String> wheelMeta = headers(required(zip, byName, distInfo + "/WHEEL", label, inflater));
            String wheelVersion = wheelMeta.getOrDefault("wheel-version", "");
            if (!wheelVersion.startsWith("1.")) {
                throw InstallException.entry(label, distInfo + "/WHEEL", "Wheel-Version '" + Names.printable(wheelVersion)
                        + "' is not supported (only 1.x)");
            }
            String rootIsPurelib = wheelMeta.getOrDefault("root-is-purelib", "").toLowerCase(Locale.ROOT);
            if (!rootIsPurelib.equals("true") && !rootIsPurelib.equals("false")) {
                throw InstallException.entry(label, distInfo + "/WHEEL", "Root-Is-Purelib must be true or false");
            }
            Map<String, String> metadata = headers(required(zip, byName, distInfo + "/METADATA", label, inflater));
            String name = metadata.getOrDefault("name", "");
            String version = metadata.getOrDefault("version", "");
            if (name.isEmpty() || version.isEmpty()) {
                throw InstallException.entry(label, distInfo + "/METADATA", "lacks a Name or Version field");
            }
            Map<String, String> record = RecordFile.parse(required(zip, byName, distInfo + "/RECORD", label, inflater));
            String scriptsPrefix = distInfo.substring(0, distInfo.length() - ".dist-info".length()) + ".data/scripts/";

            Path files = work.resolve("files");
            Files.createDirectory(files);
            Set<String> dirs = new HashSet<>();
            List<WheelIndex.FileEntry> out = new ArrayList<>(entries.size());
            MessageDigest md = Hashing.sha256();
            byte[] head = new byte[8];
            for (ZipArchive.Entry e : entries) {
                if (e.directory() || isRegenerated(e.name(), distInfo)) {
                    continue;
                }
                Path dest = files.resolve(e.name());
                int slash = e.name().lastIndexOf('/');
                if (slash > 0) {
                    makeParents(files, e.name().substring(0, slash), dirs);
                }
                md.reset();
                HeadCapture headOut;
                try (OutputStream fos = new FileOutputStream(dest.toFile())) {
                    headOut = new HeadCapture(fos, md, head);
                    zip.extract(e, headOut, inflater);
                }
                String hash = RecordFile.hash(md.digest());
                String declared = record.get(e.name());
                if (declared != null && declared.startsWith("sha256=") && !declared.equals(hash)) {
                    throw InstallException.entry(label, e.name(), "content does not match its RECORD hash ("
                            + declared + ", actual " + hash + ")");
                }
                boolean script = e.name().startsWith(scriptsPrefix);
                boolean pythonScript = script && headOut.count >= 8
                        && new String(head, 0, 8, StandardCharsets.ISO_8859_1).equals("#!python");
                boolean exec = e.executable() || script;
                if (exec) {
                    Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
                out.add(new WheelIndex.FileEntry(e.name(), e.size(), hash, exec, pythonScript));
            }
            return new WheelIndex(finalDir, distInfo, name, version, rootIsPurelib.equals("true"), List.copyOf(out));
        } finally {
            inflater.end();
        }
    }

    /** RECORD and INSTALLER are written per release; signatures of RECORD would no longer match it. */
    private static boolean isRegenerated(String name, String distInfo) {
        return name.equals(distInfo + "/RECORD") || name.equals(distInfo + "/INSTALLER")
                || name.equals(distInfo + "/RECORD.jws") || name.equals(distInfo + "/RECORD.p7s");
    }

    private static void makeParents(Path root, String dir, Set<String> made) throws IOException {
        if (made.contains(dir)) {
            return;
        }
        int slash = dir.lastIndexOf('/');
        if (slash > 0) {
            makeParents(root, dir.substring(0, slash), made);
        }
        Files.createDirectory(root.resolve(dir));
        made.add(dir);
    }

    private static String findDistInfo(List<ZipArchive.Entry> entries, String label) throws InstallException {
        Set<String> found = new HashSet<>();
        for (ZipArchive.Entry e : entries) {
            int slash = e.name().indexOf('/');
            String top = slash < 0 ? e.name() : e.name().substring(0, slash);
            if (top.endsWith(".dist-info") && (slash > 0 || e.directory())) {
                found.add(top);
            }
        }
        if (found.size() != 1) {
            throw InstallException.of(label, found.isEmpty() ? "no .dist-info directory"
                    : "more than one .dist-info directory: " + found);
        }
        return found.iterator().next();
    }

    private static byte[] required(ZipArchive zip, Map<String, ZipArchive.Entry> byName, String name, String label,
            Inflater inflater) throws IOException, InstallException {
        ZipArchive.Entry e = byName.get(name);
        if (e == null || e.directory()) {
            throw InstallException.entry(label, name, "missing; every wheel must have it");
        }
        return zip.read(e, inflater);
    }

    /** Email-style headers up to the first blank line, keys lowercased; the first occurrence wins. */
    static Map<String, String> headers(byte[] content) {
        Map<String, String> out = new HashMap<>();
        for (String line : new String(content, StandardCharsets.UTF_8).split("\r?\n")) {
            if (line.isEmpty()) {
                break;
            }
            int colon = line.indexOf(':');
            if (colon > 0 && !Character.isWhitespace(line.charAt(0))) {
                out.putIfAbsent(line.substring(0, colon).strip().toLowerCase(Locale.ROOT), line.substring(colon + 1).strip());
            }
        }
        return out;
    }

    /** Writes through, hashing every byte and keeping the first bytes for the shebang check. */
    private static final class HeadCapture extends OutputStream {
        private final OutputStream out;
        private final MessageDigest md;
        private final byte[] head;
        int count;

        HeadCapture(OutputStream out, MessageDigest md, byte[] head) {
            this.out = out;
            this.md = md;
            this.head = head;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (count < head.length) {
                System.arraycopy(b, off, head, count, Math.min(len, head.length - count));
            }
            count = (int) Math.min(head.length, (long) count + len);
            md.update(b, off, len);
            out.write(b, off, len);
        }
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.wheel.RecordFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Unpacking one wheel into a work directory ({@code work/files/} plus {@code work/index}), split so that
 * several threads can share a large wheel: {@link #open} reads and checks the metadata and creates every
 * directory once; the file entries are cut into {@link Chunk}s that any thread may extract; {@link #finish}
 * writes the index. Every byte is hashed while it is inflated (never read twice) and checked against the
 * wheel's RECORD; each file is created with its final mode ({@link AppReadable}: no chmod), written in one call when
 * it fits the scratch buffer and closed.
 */
final class WheelUnpack implements AutoCloseable {
    /** A chunk ends after this many unpacked bytes ... */
    static final long CHUNK_BYTES = 4L << 20;
    /** ... or this many files, whichever comes first. */
    static final int CHUNK_FILES = 200;

    private static final Set<StandardOpenOption> CREATE = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    private static final FileAttribute<?>[] EXECUTABLE = {AppReadable.EXECUTABLE};
    private static final FileAttribute<?>[] READ_ONLY = {AppReadable.FILE};

    private final String label;
    private final ZipArchive zip;
    private final Path work;
    private final Path files;
    private final String distInfo;
    private final String name;
    private final String version;
    private final boolean purelib;
    private final Map<String, String> record;
    private final String scriptsPrefix;
    private final List<ZipArchive.Entry> toExtract;
    private final WheelIndex.FileEntry[] extracted;
    private final List<Chunk> chunks;

    private WheelUnpack(String label, ZipArchive zip, Path work, String distInfo, String name, String version,
            boolean purelib, Map<String, String> record, List<ZipArchive.Entry> toExtract) {
        this.label = label;
        this.zip = zip;
        this.work = work;
        this.files = work.resolve("files");
        this.distInfo = distInfo;
        this.name = name;
        this.version = version;
        this.purelib = purelib;
        this.record = record;
        this.scriptsPrefix = distInfo.substring(0, distInfo.length() - ".dist-info".length()) + ".data/scripts/";
        this.toExtract = toExtract;
        this.extracted = new WheelIndex.FileEntry[toExtract.size()];
        List<Chunk> cs = new ArrayList<>();
        int from = 0;
        long bytes = 0;
        for (int i = 0; i < toExtract.size(); i++) {
            bytes += toExtract.get(i).size();
            if (bytes >= CHUNK_BYTES || i + 1 - from >= CHUNK_FILES || i + 1 == toExtract.size()) {
                cs.add(new Chunk(from, i + 1, bytes));
                from = i + 1;
                bytes = 0;
            }
        }
        this.chunks = List.copyOf(cs);
    }

    /**
     * Opens {@code wheelFile} (named {@code label} in messages), checks its structure and metadata (one
     * .dist-info, WHEEL version 1.x, Root-Is-Purelib, METADATA Name and Version, RECORD; {@link WheelChecks}:
     * the file name {@code label} against the .dist-info and METADATA, entry point names) and creates
     * {@code work/files/} with every directory the files need. {@code work} must exist and be empty.
     */
    static WheelUnpack open(Path wheelFile, String label, Path work, ZipArchive.Scratch scratch)
            throws IOException, InstallException {
        ZipArchive zip = ZipArchive.open(wheelFile, label);
        try {
            List<ZipArchive.Entry> entries = zip.entries();
            String distInfo = findDistInfo(entries, label);
            Map<String, ZipArchive.Entry> byName = new HashMap<>(entries.size() * 2);
            for (ZipArchive.Entry e : entries) {
                byName.put(e.name(), e);
            }
            Map<String, String> wheelMeta = headers(required(zip, byName, distInfo + "/WHEEL", label, scratch));
            String wheelVersion = wheelMeta.getOrDefault("wheel-version", "");
            if (!wheelVersion.startsWith("1.")) {
                throw InstallException.entry(label, distInfo + "/WHEEL", "Wheel-Version '" + Names.printable(wheelVersion)
                        + "' is not supported (only 1.x)");
            }
            String rootIsPurelib = wheelMeta.getOrDefault("root-is-purelib", "").toLowerCase(Locale.ROOT);
            if (!rootIsPurelib.equals("true") && !rootIsPurelib.equals("false")) {
                throw InstallException.entry(label, distInfo + "/WHEEL", "Root-Is-Purelib must be true or false");
            }
            Map<String, String> metadata = headers(required(zip, byName, distInfo + "/METADATA", label, scratch));
            String name = metadata.getOrDefault("name", "");
            String version = metadata.getOrDefault("version", "");
            if (name.isEmpty() || version.isEmpty()) {
                throw InstallException.entry(label, distInfo + "/METADATA", "lacks a Name or Version field");
            }
            ZipArchive.Entry entryPoints = byName.get(distInfo + "/entry_points.txt");
            WheelChecks.identity(label, distInfo, name, version,
                    entryPoints == null || entryPoints.directory() ? null : zip.read(entryPoints, scratch));
            Map<String, String> record = RecordFile.hashesByPath(
                    RecordFile.parse(required(zip, byName, distInfo + "/RECORD", label, scratch)));

            List<ZipArchive.Entry> toExtract = new ArrayList<>(entries.size());
            for (ZipArchive.Entry e : entries) {
                if (!e.directory() && !isRegenerated(e.name(), distInfo)) {
                    toExtract.add(e);
                }
            }
            makeDirectories(work.resolve("files"), toExtract);
            return new WheelUnpack(label, zip, work, distInfo, name, version, rootIsPurelib.equals("true"), record,
                    toExtract);
        } catch (IOException | InstallException | RuntimeException e) {
            zip.close();
            throw e;
        }
    }

    /** The pieces of work, in archive order; each may run on any thread, all must run before {@link #finish}. */
    List<Chunk> chunks() {
        return chunks;
    }

    /** The work directory: {@code files/} and, after {@link #finish}, {@code index}. */
    Path work() {
        return work;
    }

    /** Bytes the wheel unpacks to. */
    long unpackedBytes() {
        long sum = 0;
        for (Chunk c : chunks) {
            sum += c.bytes;
        }
        return sum;
    }

    /**
     * Writes the index once every chunk ran and returns it, naming {@code dir} as the entry's directory.
     */
    WheelIndex finish() throws IOException {
        for (WheelIndex.FileEntry f : extracted) {
            if (f == null) {
                throw new IllegalStateException(label + ": finish before every chunk was extracted");
            }
        }
        WheelIndex index = new WheelIndex(work, distInfo, name, version, purelib, List.of(extracted));
        index.write(work.resolve("index"));
        return index;
    }

    @Override
    public void close() throws IOException {
        zip.close();
    }

    /** A run of file entries extracted by one thread. */
    final class Chunk {
        private final int from;
        private final int to;
        private final long bytes;

        private Chunk(int from, int to, long bytes) {
            this.from = from;
            this.to = to;
            this.bytes = bytes;
        }

        /** Unpacked bytes of this chunk. */
        long bytes() {
            return bytes;
        }

        /** Extracts this chunk's files, hashing each as it is inflated and checking it against RECORD. */
        void extract(ZipArchive.Scratch scratch) throws IOException, InstallException {
            MessageDigest md = Hashing.sha256();
            byte[] head = new byte[8];
            int[] headLen = new int[1];
            for (int i = from; i < to; i++) {
                ZipArchive.Entry e = toExtract.get(i);
                boolean script = e.name().startsWith(scriptsPrefix);
                boolean exec = e.executable() || script;
                md.reset();
                headLen[0] = 0;
                try (FileChannel ch = FileChannel.open(files.resolve(e.name()), CREATE,
                        exec ? EXECUTABLE : READ_ONLY)) {
                    zip.extract(e, (b, off, len) -> {
                        if (headLen[0] < head.length) {
                            int n = Math.min(len, head.length - headLen[0]);
                            System.arraycopy(b, off, head, headLen[0], n);
                            headLen[0] += n;
                        }
                        md.update(b, off, len);
                        ByteBuffer bb = ByteBuffer.wrap(b, off, len);
                        while (bb.hasRemaining()) {
                            ch.write(bb);
                        }
                    }, scratch);
                }
                String hash = RecordFile.sha256Field(md.digest());
                String declared = record.get(e.name());
                if (declared != null && declared.startsWith("sha256=") && !declared.equals(hash)) {
                    throw InstallException.entry(label, e.name(), "content does not match its RECORD hash ("
                            + declared + ", actual " + hash + ")");
                }
                boolean pythonScript = script && headLen[0] == head.length
                        && new String(head, 0, head.length, StandardCharsets.ISO_8859_1).equals("#!python");
                extracted[i] = new WheelIndex.FileEntry(e.name(), e.size(), hash, exec, pythonScript);
            }
        }
    }

    /** RECORD and INSTALLER are written per release; signatures of RECORD would no longer match it. */
    private static boolean isRegenerated(String name, String distInfo) {
        return name.equals(distInfo + "/RECORD") || name.equals(distInfo + "/INSTALLER")
                || name.equals(distInfo + "/RECORD.jws") || name.equals(distInfo + "/RECORD.p7s");
    }

    /** Creates {@code files} and every parent directory of the entries, each once, parents first. */
    private static void makeDirectories(Path files, List<ZipArchive.Entry> entries) throws IOException {
        Set<String> dirs = new HashSet<>();
        for (ZipArchive.Entry e : entries) {
            String n = e.name();
            for (int s = n.lastIndexOf('/'); s > 0; s = n.lastIndexOf('/', s - 1)) {
                if (!dirs.add(n.substring(0, s))) {
                    break;
                }
            }
        }
        String[] sorted = dirs.toArray(new String[0]);
        Arrays.sort(sorted);
        AppReadable.createDirectory(files);
        for (String d : sorted) {
            AppReadable.createDirectory(files.resolve(d));
        }
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
            ZipArchive.Scratch scratch) throws IOException, InstallException {
        ZipArchive.Entry e = byName.get(name);
        if (e == null || e.directory()) {
            throw InstallException.entry(label, name, "missing; every wheel must have it");
        }
        return zip.read(e, scratch);
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
}

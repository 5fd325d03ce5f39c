package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.archive.ZipArchive;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.wheel.RecordFile;
import dev.pinfleet.wheel.WheelArchive;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Unpacking one wheel into a work directory ({@code work/files/} plus {@code work/index}), split so that
 * several threads can share a large wheel: {@link #open} reads and checks the metadata and creates every
 * directory once; the file entries are cut into {@link Chunk}s that any thread may extract; {@link #finish}
 * writes the index. What makes a valid wheel is decided once, in {@link WheelArchive} (shared with the mirror's
 * publisher), before a single file of it is inflated; every byte is then hashed while it is inflated (never read
 * twice) and checked against the wheel's RECORD; each file is created with its final mode ({@link AppReadable}: no
 * chmod), written in one call when it fits the scratch buffer and closed.
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
    private final WheelArchive wheel;
    private final Path work;
    private final Path files;
    private final String scriptsPrefix;
    private final List<ZipArchive.Entry> toExtract;
    private final WheelIndex.FileEntry[] extracted;
    private final List<Chunk> chunks;

    private WheelUnpack(String label, WheelArchive wheel, Path work, List<ZipArchive.Entry> toExtract) {
        this.label = label;
        this.wheel = wheel;
        this.work = work;
        this.files = work.resolve("files");
        this.scriptsPrefix = WheelArchive.dataDir(wheel.distInfo()) + "/scripts/";
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
     * Opens {@code wheelFile} (named {@code label} in messages), checks it ({@link WheelArchive#open}: structure,
     * limits, WHEEL, METADATA and the file name {@code label}, entry point names, RECORD) and creates
     * {@code work/files/} with every directory the files need. {@code work} must exist and be empty.
     */
    static WheelUnpack open(Path wheelFile, String label, Path work, ZipArchive.Scratch scratch)
            throws IOException, InstallException {
        WheelArchive wheel;
        try {
            wheel = WheelArchive.open(wheelFile, label, scratch);
        } catch (ArchiveException e) {
            throw InstallException.from(e);
        }
        try {
            List<ZipArchive.Entry> toExtract = wheel.payload();
            makeDirectories(work.resolve("files"), toExtract);
            return new WheelUnpack(label, wheel, work, toExtract);
        } catch (IOException | RuntimeException e) {
            wheel.close();
            throw e;
        }
    }

    /** The pieces of work, in archive order; each may run on any thread, all must run before {@link #finish}. */
    List<Chunk> chunks() {
        return chunks;
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
        WheelIndex index = new WheelIndex(work, wheel.distInfo(), wheel.metadata().name(),
                wheel.metadata().version(), wheel.purelib(), List.of(extracted));
        index.write(work.resolve("index"));
        return index;
    }

    @Override
    public void close() throws IOException {
        wheel.close();
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
                MessageDigest other = wheel.otherDigest(e);
                headLen[0] = 0;
                try (FileChannel ch = FileChannel.open(files.resolve(e.name()), CREATE,
                        exec ? EXECUTABLE : READ_ONLY)) {
                    wheel.zip().extract(e, (b, off, len) -> {
                        if (headLen[0] < head.length) {
                            int n = Math.min(len, head.length - headLen[0]);
                            System.arraycopy(b, off, head, headLen[0], n);
                            headLen[0] += n;
                        }
                        md.update(b, off, len);
                        if (other != null) {
                            other.update(b, off, len);
                        }
                        ByteBuffer bb = ByteBuffer.wrap(b, off, len);
                        while (bb.hasRemaining()) {
                            ch.write(bb);
                        }
                    }, scratch);
                    byte[] sha256 = md.digest();
                    wheel.checkHash(e, other == null ? sha256 : other.digest());
                    boolean pythonScript = script && headLen[0] == head.length
                            && new String(head, 0, head.length, StandardCharsets.ISO_8859_1).equals("#!python");
                    extracted[i] = new WheelIndex.FileEntry(e.name(), e.size(), RecordFile.sha256Field(sha256), exec,
                            pythonScript);
                } catch (ArchiveException ex) {
                    throw InstallException.from(ex);
                }
            }
        }
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
}

package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A strict zip reader working from the central directory. It exposes what {@code java.util.zip}
 * hides (unix modes from the external attributes), and refuses on open anything that could write
 * outside the target or blow up: unsafe names, symlink entries, duplicates, encrypted or unknown
 * compression, and declared sizes beyond {@link Limits}. While extracting, the local header must
 * agree with the central directory, the data must end before the next entry begins, and inflated
 * bytes are checked against the declared size and CRC.
 *
 * <p>Thread-safe: entries are read with positional reads, and each thread extracts with its own
 * {@link Scratch}. A small entry costs one read system call (header, name and data together).
 */
final class ZipArchive implements Closeable {
    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CEN_SIG = 0x02014b50;
    private static final int LOC_SIG = 0x04034b50;
    private static final int LOC_HEADER = 30;
    private static final int S_IFMT = 0170000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFDIR = 0040000;

    /**
     * One entry.
     *
     * @param name the safe relative path, without a trailing '/' for directories
     * @param unixMode permission bits (0 when the archive was not made on unix)
     * @param localOffset where its local header starts
     * @param limit where the next entry (or the central directory) starts: its header and data must end before
     */
    record Entry(String name, boolean directory, int unixMode, int method, long compressedSize, long size, long crc,
            long localOffset, long limit) {
        boolean executable() {
            return (unixMode & 0111) != 0;
        }
    }

    /** Where extracted bytes go. */
    interface Sink {
        void write(byte[] b, int off, int len) throws IOException;
    }

    /**
     * Per-thread buffers and codecs for {@link #extract}. Whole small files are inflated into {@link #OUT}
     * bytes before they are handed on, so a file of up to that size reaches its sink in one call.
     */
    static final class Scratch implements AutoCloseable {
        static final int IN = 256 << 10;
        static final int OUT = 1 << 20;
        final ByteBuffer in = ByteBuffer.allocate(IN).order(ByteOrder.LITTLE_ENDIAN);
        final byte[] out = new byte[OUT];
        final Inflater inflater = new Inflater(true);
        final CRC32 crc = new CRC32();

        @Override
        public void close() {
            inflater.end();
        }
    }

    private final String label;
    private final FileChannel channel;
    private final List<Entry> entries;

    private ZipArchive(String label, FileChannel channel, List<Entry> entries) {
        this.label = label;
        this.channel = channel;
        this.entries = entries;
    }

    /** Opens and checks a zip file; {@code label} (the artifact file name) prefixes every error. */
    static ZipArchive open(Path file, String label) throws IOException, InstallException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new ZipArchive(label, ch, readEntries(ch, label));
        } catch (IOException | InstallException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The entries in central directory order. */
    List<Entry> entries() {
        return entries;
    }

    /** Inflates one entry into {@code out}, checking its local header, bounds, declared size and CRC. */
    void extract(Entry e, Sink out, Scratch s) throws IOException, InstallException {
        ByteBuffer in = s.in;
        long pos = e.localOffset();
        in.clear().limit((int) Math.min(in.capacity(), e.limit() - pos));
        int got = readAtLeast(in, pos, Math.min(in.limit(), LOC_HEADER));
        if (got < LOC_HEADER || in.getInt(0) != LOC_SIG) {
            throw InstallException.entry(label, e.name(), "local header missing (corrupt zip)");
        }
        int nameLen = Short.toUnsignedInt(in.getShort(26));
        int extraLen = Short.toUnsignedInt(in.getShort(28));
        int header = LOC_HEADER + nameLen + extraLen;
        if (pos + header > e.limit()) {
            throw InstallException.entry(label, e.name(), "local header overlaps the next entry (corrupt zip)");
        }
        if (got < header) {
            got = readAtLeast(in, pos, header); // header <= in.limit(): at most 30 + 2 * 65535 bytes
        }
        String localName = new String(in.array(), LOC_HEADER, nameLen, StandardCharsets.UTF_8);
        if (!localName.equals(e.name()) && !(e.directory() && localName.equals(e.name() + "/"))) {
            throw InstallException.entry(label, e.name(), "local header names '" + Names.printable(localName)
                    + "' instead (ambiguous zip)");
        }
        long data = pos + header;
        long end = data + e.compressedSize();
        if (end > e.limit()) {
            throw InstallException.entry(label, e.name(), "data overlaps the next entry (zip bomb guard)");
        }
        // the start of the data came with the header
        int off = header;
        int avail = (int) Math.min(got - header, e.compressedSize());
        long next = data + avail;
        CRC32 crc = s.crc;
        crc.reset();
        byte[] buf = s.out;
        long written = 0;
        if (e.method() == 0) {
            while (true) {
                if (avail > 0) {
                    crc.update(in.array(), off, avail);
                    out.write(in.array(), off, avail);
                    written += avail;
                }
                if (next >= end) {
                    break;
                }
                in.clear().limit((int) Math.min(in.capacity(), end - next));
                avail = readAtLeast(in, next, in.limit());
                off = 0;
                next += avail;
            }
        } else {
            Inflater inflater = s.inflater;
            inflater.reset();
            int filled = 0;
            try {
                if (avail > 0) {
                    inflater.setInput(in.array(), off, avail);
                }
                while (!inflater.finished()) {
                    if (inflater.needsInput()) {
                        if (next >= end) {
                            throw InstallException.entry(label, e.name(), "compressed data ends early (corrupt zip)");
                        }
                        in.clear().limit((int) Math.min(in.capacity(), end - next));
                        int n = readAtLeast(in, next, in.limit());
                        next += n;
                        inflater.setInput(in.array(), 0, n);
                    }
                    int n = inflater.inflate(buf, filled, buf.length - filled);
                    if (n > 0) {
                        written += n;
                        if (written > e.size()) {
                            throw InstallException.entry(label, e.name(), "inflates to more than its declared size of "
                                    + e.size() + " bytes (zip bomb or corrupt zip)");
                        }
                        filled += n;
                        if (filled == buf.length) {
                            crc.update(buf, 0, filled);
                            out.write(buf, 0, filled);
                            filled = 0;
                        }
                    } else if (inflater.needsDictionary()) {
                        throw InstallException.entry(label, e.name(), "deflate stream needs a preset dictionary");
                    }
                }
            } catch (DataFormatException ex) {
                throw InstallException.entry(label, e.name(), "corrupt deflate data: " + ex.getMessage());
            }
            if (filled > 0) {
                crc.update(buf, 0, filled);
                out.write(buf, 0, filled);
            }
        }
        if (written != e.size()) {
            throw InstallException.entry(label, e.name(), "unpacks to " + written + " bytes but declares " + e.size());
        }
        if (crc.getValue() != e.crc()) {
            throw InstallException.entry(label, e.name(), "CRC mismatch (corrupt zip)");
        }
    }

    /** Reads a small entry into memory. */
    byte[] read(Entry e, Scratch s) throws IOException, InstallException {
        if (e.size() > Limits.MAX_METADATA_BYTES) {
            throw InstallException.entry(label, e.name(), "metadata file of " + e.size() + " bytes is too large");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) e.size());
        extract(e, out::write, s);
        return out.toByteArray();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** Reads from {@code pos} into {@code in} (from 0 up to its limit) until at least {@code min} bytes are in. */
    private int readAtLeast(ByteBuffer in, long pos, int min) throws IOException {
        in.position(0);
        int got = 0;
        while (got < min) {
            int n = channel.read(in, pos + got);
            if (n <= 0) {
                throw new IOException(label + ": unexpected end of file at offset " + (pos + got));
            }
            got += n;
        }
        return got;
    }

    private static List<Entry> readEntries(FileChannel ch, String label) throws IOException, InstallException {
        long fileSize = ch.size();
        int tailLen = (int) Math.min(fileSize, 22 + 65535);
        ByteBuffer tail = ByteBuffer.allocate(tailLen).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, tail, fileSize - tailLen);
        int eocd = -1;
        for (int i = tailLen - 22; i >= 0; i--) {
            if (tail.getInt(i) == EOCD_SIG) {
                eocd = i;
                break;
            }
        }
        if (eocd < 0) {
            throw InstallException.of(label, "not a zip file (no end of central directory record)");
        }
        if (tail.getShort(eocd + 4) != 0 || tail.getShort(eocd + 6) != 0) {
            throw InstallException.of(label, "multi-disk zip files are not supported");
        }
        long count = Short.toUnsignedLong(tail.getShort(eocd + 10));
        long cenSize = Integer.toUnsignedLong(tail.getInt(eocd + 12));
        long cenOffset = Integer.toUnsignedLong(tail.getInt(eocd + 16));
        long eocdPos = fileSize - tailLen + eocd;
        if (count == 0xFFFF || cenSize == 0xFFFFFFFFL || cenOffset == 0xFFFFFFFFL) {
            ByteBuffer loc = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
            if (eocdPos < 20) {
                throw InstallException.of(label, "zip64 locator missing");
            }
            readFully(ch, loc, eocdPos - 20);
            if (loc.getInt(0) != ZIP64_LOCATOR_SIG) {
                throw InstallException.of(label, "zip64 locator missing");
            }
            long z64 = loc.getLong(8);
            ByteBuffer rec = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
            if (z64 < 0 || z64 + 56 > eocdPos) {
                throw InstallException.of(label, "zip64 end record out of range");
            }
            readFully(ch, rec, z64);
            if (rec.getInt(0) != ZIP64_EOCD_SIG) {
                throw InstallException.of(label, "zip64 end record missing");
            }
            count = rec.getLong(32);
            cenSize = rec.getLong(40);
            cenOffset = rec.getLong(48);
            eocdPos = z64;
        }
        if (count > Limits.MAX_ENTRIES) {
            throw InstallException.of(label, count + " entries, more than the limit of " + Limits.MAX_ENTRIES);
        }
        if (cenOffset < 0 || cenSize < 0 || cenOffset + cenSize > eocdPos || cenSize > Integer.MAX_VALUE) {
            throw InstallException.of(label, "central directory out of range (corrupt zip)");
        }
        ByteBuffer cen = ByteBuffer.allocate((int) cenSize).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, cen, cenOffset);
        List<Entry> raw = new ArrayList<>((int) count);
        java.util.Map<String, Boolean> names = new java.util.HashMap<>();
        long totalSize = 0;
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cenSize || cen.getInt(p) != CEN_SIG) {
                throw InstallException.of(label, "central directory entry " + i + " is malformed (corrupt zip)");
            }
            int madeBy = Short.toUnsignedInt(cen.getShort(p + 4)) >> 8;
            int flags = Short.toUnsignedInt(cen.getShort(p + 8));
            int method = Short.toUnsignedInt(cen.getShort(p + 10));
            long crc = Integer.toUnsignedLong(cen.getInt(p + 16));
            long csize = Integer.toUnsignedLong(cen.getInt(p + 20));
            long size = Integer.toUnsignedLong(cen.getInt(p + 24));
            int nameLen = Short.toUnsignedInt(cen.getShort(p + 28));
            int extraLen = Short.toUnsignedInt(cen.getShort(p + 30));
            int commentLen = Short.toUnsignedInt(cen.getShort(p + 32));
            long external = Integer.toUnsignedLong(cen.getInt(p + 38));
            long offset = Integer.toUnsignedLong(cen.getInt(p + 42));
            if (p + 46L + nameLen + extraLen + commentLen > cenSize) {
                throw InstallException.of(label, "central directory entry " + i + " overruns (corrupt zip)");
            }
            byte[] nameBytes = new byte[nameLen];
            cen.get(p + 46, nameBytes);
            String rawName = new String(nameBytes, StandardCharsets.UTF_8);
            int x = p + 46 + nameLen;
            int xEnd = x + extraLen;
            while (x + 4 <= xEnd) {
                int id = Short.toUnsignedInt(cen.getShort(x));
                int len = Short.toUnsignedInt(cen.getShort(x + 2));
                if (id == 0x0001) {
                    int q = x + 4;
                    if (size == 0xFFFFFFFFL && q + 8 <= x + 4 + len) {
                        size = cen.getLong(q);
                        q += 8;
                    }
                    if (csize == 0xFFFFFFFFL && q + 8 <= x + 4 + len) {
                        csize = cen.getLong(q);
                        q += 8;
                    }
                    if (offset == 0xFFFFFFFFL && q + 8 <= x + 4 + len) {
                        offset = cen.getLong(q);
                    }
                }
                x += 4 + len;
            }
            p += 46 + nameLen + extraLen + commentLen;

            int mode = madeBy == 3 ? (int) (external >>> 16) : 0;
            boolean dir = rawName.endsWith("/");
            String name = dir ? rawName.substring(0, rawName.length() - 1) : rawName;
            String why = checkName(name);
            if (why != null) {
                throw InstallException.entry(label, rawName, why);
            }
            if ((mode & S_IFMT) == S_IFLNK) {
                throw InstallException.entry(label, rawName, "symbolic link entries are not allowed");
            }
            if ((mode & S_IFMT) == S_IFDIR) {
                dir = true;
            } else if ((mode & S_IFMT) != 0 && (mode & S_IFMT) != 0100000) {
                throw InstallException.entry(label, rawName, "is not a regular file or directory (mode "
                        + Integer.toOctalString(mode) + ")");
            }
            if ((flags & 1) != 0) {
                throw InstallException.entry(label, rawName, "encrypted entries are not supported");
            }
            if (method != 0 && method != 8) {
                throw InstallException.entry(label, rawName, "compression method " + method
                        + " is not supported (only stored and deflate)");
            }
            if (size < 0 || csize < 0 || offset < 0 || offset > cenOffset) {
                throw InstallException.entry(label, rawName, "sizes or offset out of range (corrupt zip)");
            }
            if (method == 0 && csize != size) {
                throw InstallException.entry(label, rawName, "stored entry declares " + size + " bytes but holds " + csize);
            }
            why = Limits.checkRatio(size, csize);
            if (why != null) {
                throw InstallException.entry(label, rawName, why + " (zip bomb guard)");
            }
            totalSize += size;
            if (totalSize > Limits.MAX_UNPACKED_BYTES) {
                throw InstallException.entry(label, rawName, "declares " + size + " bytes, which brings the archive to "
                        + totalSize + " unpacked bytes, more than the limit of " + Limits.MAX_UNPACKED_BYTES
                        + " (zip bomb guard)");
            }
            if (names.put(name, dir) != null) {
                throw InstallException.entry(label, rawName, "appears twice in the archive (duplicate entry)");
            }
            raw.add(new Entry(name, dir, mode & 07777, method, csize, size, crc, offset, -1));
        }
        String why = Limits.checkRatio(totalSize, fileSize);
        if (why != null) {
            throw InstallException.of(label, "whole archive " + why + " (zip bomb guard)");
        }
        for (Entry e : raw) {
            if (!e.directory()) {
                String parent = e.name();
                for (int s = parent.lastIndexOf('/'); s > 0; s = parent.lastIndexOf('/', s - 1)) {
                    String prefix = parent.substring(0, s);
                    if (Boolean.FALSE.equals(names.get(prefix))) {
                        throw InstallException.entry(label, e.name(), "lies below '" + prefix + "', which is a file");
                    }
                }
            }
        }
        return withLimits(label, raw, cenOffset);
    }

    /** Sets each entry's limit: the offset of the next local header (or of the central directory). */
    private static List<Entry> withLimits(String label, List<Entry> raw, long cenOffset) throws InstallException {
        Entry[] byOffset = raw.toArray(new Entry[0]);
        Arrays.sort(byOffset, Comparator.comparingLong(Entry::localOffset));
        java.util.Map<String, Entry> fixed = new java.util.HashMap<>(raw.size() * 2);
        for (int i = 0; i < byOffset.length; i++) {
            Entry e = byOffset[i];
            long next = i + 1 < byOffset.length ? byOffset[i + 1].localOffset() : cenOffset;
            if (next == e.localOffset()) {
                throw InstallException.entry(label, e.name(), "shares its local header with another entry (zip bomb guard)");
            }
            fixed.put(e.name(), new Entry(e.name(), e.directory(), e.unixMode(), e.method(), e.compressedSize(),
                    e.size(), e.crc(), e.localOffset(), next));
        }
        List<Entry> out = new ArrayList<>(raw.size());
        for (Entry e : raw) {
            out.add(fixed.get(e.name()));
        }
        return List.copyOf(out);
    }

    /** Null when a zip or tar entry name is a safe relative path, otherwise why not. */
    static String checkName(String name) {
        if (name.indexOf('\\') >= 0) {
            return "path contains a backslash";
        }
        if (name.indexOf('\0') >= 0) {
            return "path contains a NUL character";
        }
        if (name.startsWith("/")) {
            return "path is absolute";
        }
        if (name.length() > 1 && name.charAt(1) == ':') {
            return "path has a drive letter";
        }
        for (String part : name.split("/", -1)) {
            if (part.equals("..")) {
                return "path has a '..' component";
            }
        }
        return Names.checkRelativePath(name);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at offset " + pos);
            }
            pos += n;
        }
    }
}

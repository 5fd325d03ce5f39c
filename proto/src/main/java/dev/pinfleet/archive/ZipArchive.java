package dev.pinfleet.archive;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * A strict zip reader working from the central directory. It exposes what {@code java.util.zip}
 * hides (unix modes from the external attributes), and refuses on open anything that could write
 * outside the target or blow up: unsafe names, symlink entries, duplicates, encrypted or unknown
 * compression, and declared sizes beyond {@link ArchiveLimits} (entry count, total size, per-entry and
 * whole-archive ratio) — all from the central directory, before a single byte is inflated. While
 * extracting, the local header must agree with the central directory, the data must end before the
 * next entry begins, and inflated bytes are checked against the declared size and CRC.
 *
 * <p>The one zip reader of the project: the agent unpacks wheels and zip archives with it, the mirror's
 * publisher checks uploads with it ({@code dev.pinfleet.wheel.WheelArchive}).
 *
 * <p>Thread-safe: entries are read with positional reads, and each thread extracts with its own
 * {@link Scratch}. A small entry costs one read system call (header, name and data together).
 */
public final class ZipArchive implements Closeable {
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
    public record Entry(String name, boolean directory, int unixMode, int method, long compressedSize, long size,
            long crc, long localOffset, long limit) {
        /** Whether any execute bit is set. */
        public boolean executable() {
            return (unixMode & 0111) != 0;
        }
    }

    /** Where extracted bytes go. */
    public interface Sink {
        void write(byte[] b, int off, int len) throws IOException;
    }

    /**
     * Per-thread buffers and codecs for {@link #extract}. Whole small files are inflated into {@link #OUT}
     * bytes before they are handed on, so a file of up to that size reaches its sink in one call.
     */
    public static final class Scratch implements AutoCloseable {
        static final int IN = 256 << 10;
        static final int OUT = 1 << 20;
        final ByteBuffer in = ByteBuffer.allocate(IN).order(ByteOrder.LITTLE_ENDIAN);
        final byte[] out = new byte[OUT];
        final Inflater inflater = new Inflater(true);
        final CRC32 crc = new CRC32();
        /** Bytes of the entry being extracted inflated so far (only those within its declared size reach the sink). */
        long written;

        @Override
        public void close() {
            inflater.end();
        }
    }

    private final String label;
    private final FileChannel channel;
    private final List<Entry> entries;
    /** Bytes inflated (or copied out) by finished or failed extractions. */
    private final LongAdder inflated = new LongAdder();

    private ZipArchive(String label, FileChannel channel, List<Entry> entries) {
        this.label = label;
        this.channel = channel;
        this.entries = entries;
    }

    /** Opens and checks a zip file; {@code label} (the artifact file name) prefixes every error. */
    public static ZipArchive open(Path file, String label) throws IOException, ArchiveException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new ZipArchive(label, ch, readEntries(ch, label));
        } catch (IOException | ArchiveException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The entries in central directory order. */
    public List<Entry> entries() {
        return entries;
    }

    /** The label every error starts with (the archive's file name). */
    public String label() {
        return label;
    }

    /** Bytes inflated (or copied out, for stored entries) from this archive so far, by all threads. */
    public long inflatedBytes() {
        return inflated.sum();
    }

    /** A refusal of {@code entry} (null: of the whole archive), recording how much had been inflated. */
    public ArchiveException refusal(String entry, String why) {
        return ArchiveException.after(label, entry, why, inflated.sum());
    }

    /** Inflates one entry into {@code out}, checking its local header, bounds, declared size and CRC. */
    public void extract(Entry e, Sink out, Scratch s) throws IOException, ArchiveException {
        s.written = 0;
        try {
            inflate(e, out, s);
        } finally {
            inflated.add(s.written);
        }
    }

    private ArchiveException refuse(Entry e, String why, Scratch s) {
        return ArchiveException.after(label, e.name(), why, inflated.sum() + s.written);
    }

    private void inflate(Entry e, Sink out, Scratch s) throws IOException, ArchiveException {
        ByteBuffer in = s.in;
        long pos = e.localOffset();
        in.clear().limit((int) Math.min(in.capacity(), e.limit() - pos));
        int got = readAtLeast(in, pos, Math.min(in.limit(), LOC_HEADER));
        if (got < LOC_HEADER || in.getInt(0) != LOC_SIG) {
            throw refuse(e, "local header missing (corrupt zip)", s);
        }
        int nameLen = Short.toUnsignedInt(in.getShort(26));
        int extraLen = Short.toUnsignedInt(in.getShort(28));
        int header = LOC_HEADER + nameLen + extraLen;
        if (pos + header > e.limit()) {
            throw refuse(e, "local header overlaps the next entry (corrupt zip)", s);
        }
        if (got < header) {
            got = readAtLeast(in, pos, header); // header <= in.limit(): at most 30 + 2 * 65535 bytes
        }
        String localName = new String(in.array(), LOC_HEADER, nameLen, StandardCharsets.UTF_8);
        if (!localName.equals(e.name()) && !(e.directory() && localName.equals(e.name() + "/"))) {
            throw refuse(e, "local header names '" + Names.printable(localName)
                    + "' instead (ambiguous zip)", s);
        }
        long data = pos + header;
        long end = data + e.compressedSize();
        if (end > e.limit()) {
            throw refuse(e, "data overlaps the next entry (zip bomb guard)", s);
        }
        // the start of the data came with the header
        int off = header;
        int avail = (int) Math.min(got - header, e.compressedSize());
        long next = data + avail;
        CRC32 crc = s.crc;
        crc.reset();
        byte[] buf = s.out;
        if (e.method() == 0) {
            while (true) {
                if (avail > 0) {
                    crc.update(in.array(), off, avail);
                    out.write(in.array(), off, avail);
                    s.written += avail;
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
                            throw refuse(e, "compressed data ends early (corrupt zip)", s);
                        }
                        in.clear().limit((int) Math.min(in.capacity(), end - next));
                        int n = readAtLeast(in, next, in.limit());
                        next += n;
                        inflater.setInput(in.array(), 0, n);
                    }
                    int n = inflater.inflate(buf, filled, buf.length - filled);
                    if (n > 0) {
                        s.written += n;
                        if (s.written > e.size()) {
                            throw refuse(e, "inflates to more than its declared size of "
                                    + e.size() + " bytes (zip bomb or corrupt zip)", s);
                        }
                        filled += n;
                        if (filled == buf.length) {
                            crc.update(buf, 0, filled);
                            out.write(buf, 0, filled);
                            filled = 0;
                        }
                    } else if (inflater.needsDictionary()) {
                        throw refuse(e, "deflate stream needs a preset dictionary", s);
                    }
                }
            } catch (DataFormatException ex) {
                throw refuse(e, "corrupt deflate data: " + ex.getMessage(), s);
            }
            if (filled > 0) {
                crc.update(buf, 0, filled);
                out.write(buf, 0, filled);
            }
        }
        if (s.written != e.size()) {
            throw refuse(e, "unpacks to " + s.written + " bytes but declares " + e.size(), s);
        }
        if (crc.getValue() != e.crc()) {
            throw refuse(e, "CRC mismatch (corrupt zip)", s);
        }
    }

    /** Reads a small entry into memory. */
    public byte[] read(Entry e, Scratch s) throws IOException, ArchiveException {
        if (e.size() > ArchiveLimits.MAX_METADATA_BYTES) {
            throw refusal(e.name(), "metadata file of " + e.size() + " bytes is larger than the limit of "
                    + ArchiveLimits.MAX_METADATA_BYTES);
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

    private static List<Entry> readEntries(FileChannel ch, String label) throws IOException, ArchiveException {
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
            throw ArchiveException.of(label, "not a zip file (no end of central directory record)");
        }
        if (tail.getShort(eocd + 4) != 0 || tail.getShort(eocd + 6) != 0) {
            throw ArchiveException.of(label, "multi-disk zip files are not supported");
        }
        long count = Short.toUnsignedLong(tail.getShort(eocd + 10));
        long cenSize = Integer.toUnsignedLong(tail.getInt(eocd + 12));
        long cenOffset = Integer.toUnsignedLong(tail.getInt(eocd + 16));
        long eocdPos = fileSize - tailLen + eocd;
        if (count == 0xFFFF || cenSize == 0xFFFFFFFFL || cenOffset == 0xFFFFFFFFL) {
            ByteBuffer loc = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
            if (eocdPos < 20) {
                throw ArchiveException.of(label, "zip64 locator missing");
            }
            readFully(ch, loc, eocdPos - 20);
            if (loc.getInt(0) != ZIP64_LOCATOR_SIG) {
                throw ArchiveException.of(label, "zip64 locator missing");
            }
            long z64 = loc.getLong(8);
            ByteBuffer rec = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
            if (z64 < 0 || z64 + 56 > eocdPos) {
                throw ArchiveException.of(label, "zip64 end record out of range");
            }
            readFully(ch, rec, z64);
            if (rec.getInt(0) != ZIP64_EOCD_SIG) {
                throw ArchiveException.of(label, "zip64 end record missing");
            }
            count = rec.getLong(32);
            cenSize = rec.getLong(40);
            cenOffset = rec.getLong(48);
            eocdPos = z64;
        }
        if (count > ArchiveLimits.MAX_ENTRIES) {
            throw ArchiveException.of(label, count + " entries, more than the limit of " + ArchiveLimits.MAX_ENTRIES);
        }
        if (cenOffset < 0 || cenSize < 0 || cenOffset + cenSize > eocdPos || cenSize > Integer.MAX_VALUE) {
            throw ArchiveException.of(label, "central directory out of range (corrupt zip)");
        }
        ByteBuffer cen = ByteBuffer.allocate((int) cenSize).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, cen, cenOffset);
        List<Entry> raw = new ArrayList<>((int) count);
        Map<String, Boolean> names = new HashMap<>();
        long totalSize = 0;
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cenSize || cen.getInt(p) != CEN_SIG) {
                throw ArchiveException.of(label, "central directory entry " + i + " is malformed (corrupt zip)");
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
                throw ArchiveException.of(label, "central directory entry " + i + " overruns (corrupt zip)");
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
            String why = EntryNames.check(name);
            if (why != null) {
                throw ArchiveException.entry(label, rawName, why);
            }
            if ((mode & S_IFMT) == S_IFLNK) {
                throw ArchiveException.entry(label, rawName, "symbolic link entries are not allowed");
            }
            if ((mode & S_IFMT) == S_IFDIR) {
                dir = true;
            } else if ((mode & S_IFMT) != 0 && (mode & S_IFMT) != 0100000) {
                throw ArchiveException.entry(label, rawName, "is not a regular file or directory (mode "
                        + Integer.toOctalString(mode) + ")");
            }
            if ((flags & 1) != 0) {
                throw ArchiveException.entry(label, rawName, "encrypted entries are not supported");
            }
            if (method != 0 && method != 8) {
                throw ArchiveException.entry(label, rawName, "compression method " + method
                        + " is not supported (only stored and deflate)");
            }
            if (size < 0 || csize < 0 || offset < 0 || offset > cenOffset) {
                throw ArchiveException.entry(label, rawName, "sizes or offset out of range (corrupt zip)");
            }
            if (method == 0 && csize != size) {
                throw ArchiveException.entry(label, rawName, "stored entry declares " + size + " bytes but holds " + csize);
            }
            why = ArchiveLimits.checkRatio(size, csize);
            if (why != null) {
                throw ArchiveException.entry(label, rawName, why + " (zip bomb guard)");
            }
            totalSize += size;
            if (totalSize > ArchiveLimits.MAX_UNPACKED_BYTES) {
                throw ArchiveException.entry(label, rawName, "declares " + size + " bytes, which brings the archive to "
                        + totalSize + " unpacked bytes, more than the limit of " + ArchiveLimits.MAX_UNPACKED_BYTES
                        + " (zip bomb guard)");
            }
            if (names.put(name, dir) != null) {
                throw ArchiveException.entry(label, rawName, "appears twice in the archive (duplicate entry)");
            }
            raw.add(new Entry(name, dir, mode & 07777, method, csize, size, crc, offset, -1));
        }
        String why = ArchiveLimits.checkRatio(totalSize, fileSize);
        if (why != null) {
            throw ArchiveException.of(label, "whole archive " + why + " (zip bomb guard)");
        }
        for (Entry e : raw) {
            if (!e.directory()) {
                String parent = e.name();
                for (int s = parent.lastIndexOf('/'); s > 0; s = parent.lastIndexOf('/', s - 1)) {
                    String prefix = parent.substring(0, s);
                    if (Boolean.FALSE.equals(names.get(prefix))) {
                        throw ArchiveException.entry(label, e.name(), "lies below '" + prefix + "', which is a file");
                    }
                }
            }
        }
        return withLimits(label, raw, cenOffset);
    }

    /** Sets each entry's limit: the offset of the next local header (or of the central directory). */
    private static List<Entry> withLimits(String label, List<Entry> raw, long cenOffset) throws ArchiveException {
        Entry[] byOffset = raw.toArray(new Entry[0]);
        Arrays.sort(byOffset, Comparator.comparingLong(Entry::localOffset));
        Map<String, Entry> fixed = new HashMap<>(raw.size() * 2);
        for (int i = 0; i < byOffset.length; i++) {
            Entry e = byOffset[i];
            long next = i + 1 < byOffset.length ? byOffset[i + 1].localOffset() : cenOffset;
            if (next == e.localOffset()) {
                throw ArchiveException.entry(label, e.name(), "shares its local header with another entry (zip bomb guard)");
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

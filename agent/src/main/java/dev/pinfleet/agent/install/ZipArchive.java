package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
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
 * compression, local headers that disagree with the central directory, overlapping entries, and
 * declared sizes beyond {@link Limits}. While extracting, inflated bytes are checked against the
 * declared size and CRC. Not thread-safe: one thread reads one archive.
 */
final class ZipArchive implements Closeable {
    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CEN_SIG = 0x02014b50;
    private static final int LOC_SIG = 0x04034b50;
    private static final int S_IFMT = 0170000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFDIR = 0040000;

    /**
     * One entry.
     *
     * @param name the safe relative path, without a trailing '/' for directories
     * @param unixMode permission bits (0 when the archive was not made on unix)
     */
    record Entry(String name, boolean directory, int unixMode, int method, long compressedSize, long size, long crc,
            long localOffset, long dataOffset) {
        boolean executable() {
            return (unixMode & 0111) != 0;
        }
    }

    private final String label;
    private final FileChannel channel;
    private final List<Entry> entries;
    /** Scratch buffers: an archive is read by one thread at a time. */
    private final ByteBuffer inBuf = ByteBuffer.allocate(1 << 16);
    private final byte[] outBuf = new byte[1 << 16];

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

    /** Inflates one entry into {@code out}, checking declared size and CRC. */
    void extract(Entry e, OutputStream out, Inflater inflater) throws IOException, InstallException {
        CRC32 crc = new CRC32();
        long written = 0;
        ByteBuffer in = inBuf;
        byte[] buf = outBuf;
        long pos = e.dataOffset();
        long end = e.dataOffset() + e.compressedSize();
        if (e.method() == 0) {
            while (pos < end) {
                in.clear().limit((int) Math.min(in.capacity(), end - pos));
                int n = readAt(in, pos);
                pos += n;
                crc.update(in.array(), 0, n);
                out.write(in.array(), 0, n);
                written += n;
            }
        } else {
            inflater.reset();
            try {
                while (!inflater.finished()) {
                    if (inflater.needsInput()) {
                        if (pos >= end) {
                            throw InstallException.entry(label, e.name(), "compressed data ends early (corrupt zip)");
                        }
                        in.clear().limit((int) Math.min(in.capacity(), end - pos));
                        int n = readAt(in, pos);
                        pos += n;
                        inflater.setInput(in.array(), 0, n);
                    }
                    int n = inflater.inflate(buf);
                    if (n > 0) {
                        written += n;
                        if (written > e.size()) {
                            throw InstallException.entry(label, e.name(), "inflates to more than its declared size of "
                                    + e.size() + " bytes (zip bomb or corrupt zip)");
                        }
                        crc.update(buf, 0, n);
                        out.write(buf, 0, n);
                    } else if (inflater.needsDictionary()) {
                        throw InstallException.entry(label, e.name(), "deflate stream needs a preset dictionary");
                    }
                }
            } catch (DataFormatException ex) {
                throw InstallException.entry(label, e.name(), "corrupt deflate data: " + ex.getMessage());
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
    byte[] read(Entry e, Inflater inflater) throws IOException, InstallException {
        if (e.size() > Limits.MAX_METADATA_BYTES) {
            throw InstallException.entry(label, e.name(), "metadata file of " + e.size() + " bytes is too large");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) e.size());
        extract(e, out, inflater);
        return out.toByteArray();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private int readAt(ByteBuffer in, long pos) throws IOException {
        int n = channel.read(in, pos);
        if (n <= 0) {
            throw new IOException(label + ": unexpected end of file at offset " + pos);
        }
        return n;
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
                throw InstallException.of(label, "unpacks to more than " + Limits.MAX_UNPACKED_BYTES
                        + " bytes (zip bomb guard)");
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
        return withDataOffsets(ch, label, raw, cenOffset);
    }

    private static List<Entry> withDataOffsets(FileChannel ch, String label, List<Entry> raw, long cenOffset)
            throws IOException, InstallException {
        Entry[] byOffset = raw.toArray(new Entry[0]);
        Arrays.sort(byOffset, Comparator.comparingLong(Entry::localOffset));
        ByteBuffer loc = ByteBuffer.allocate(30).order(ByteOrder.LITTLE_ENDIAN);
        java.util.Map<String, Entry> fixed = new java.util.HashMap<>();
        for (int i = 0; i < byOffset.length; i++) {
            Entry e = byOffset[i];
            loc.clear();
            readFully(ch, loc, e.localOffset());
            if (loc.getInt(0) != LOC_SIG) {
                throw InstallException.entry(label, e.name(), "local header missing (corrupt zip)");
            }
            int nameLen = Short.toUnsignedInt(loc.getShort(26));
            int extraLen = Short.toUnsignedInt(loc.getShort(28));
            ByteBuffer nameBuf = ByteBuffer.allocate(nameLen);
            readFully(ch, nameBuf, e.localOffset() + 30);
            String localName = new String(nameBuf.array(), StandardCharsets.UTF_8);
            String expected = e.directory() && localName.endsWith("/") ? e.name() + "/" : e.name();
            if (!localName.equals(expected) && !localName.equals(e.name())) {
                throw InstallException.entry(label, e.name(), "local header names '" + Names.printable(localName)
                        + "' instead (ambiguous zip)");
            }
            long data = e.localOffset() + 30 + nameLen + extraLen;
            long next = i + 1 < byOffset.length ? byOffset[i + 1].localOffset() : cenOffset;
            if (data + e.compressedSize() > next) {
                throw InstallException.entry(label, e.name(), "data overlaps the next entry (zip bomb guard)");
            }
            fixed.put(e.name(), new Entry(e.name(), e.directory(), e.unixMode(), e.method(), e.compressedSize(),
                    e.size(), e.crc(), e.localOffset(), data));
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

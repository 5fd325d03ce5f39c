package dev.pinfleet.mirror.pack;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A minimal, deterministic zip writer: fixed timestamps (1980-01-01 00:00, no extended-time fields), Unix
 * file modes in the external attributes (which {@link java.util.zip.ZipOutputStream} cannot write), sizes
 * known before each local header (no data descriptors), ZIP64 records only when a size, offset or count
 * needs them. The same entries in the same order always give the same bytes.
 */
final class ZipWriter implements Closeable {
    private static final int DOS_TIME = 0;
    private static final int DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
    private static final long MAX32 = 0xFFFFFFFFL;
    private static final int MAX16 = 0xFFFF;
    private static final int MODE_FILE = 0100000;

    private record Central(byte[] name, boolean utf8, int method, int crc, long compressed, long size,
            long offset, int mode) {}

    private final OutputStream out;
    private final Deflater deflater;
    private final List<Central> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private byte[] compressed = new byte[64 * 1024];
    private long offset;
    private boolean closed;

    /** @param level a {@link Deflater} level, 0 (store) to 9 */
    ZipWriter(OutputStream out, int level) {
        this.out = out;
        this.deflater = new Deflater(level, true);
    }

    /**
     * Adds a file entry: deflated, or stored when deflating does not make it smaller.
     *
     * @param name       the entry name, '/'-separated, relative
     * @param executable true to record mode 0755, else 0644
     */
    void add(String name, byte[] data, boolean executable) throws IOException {
        if (!names.add(name)) {
            throw new IllegalArgumentException("duplicate zip entry '" + name + "'");
        }
        CRC32 crc = new CRC32();
        crc.update(data);
        int clen = deflate(data);
        int method = 8;
        byte[] body = compressed;
        if (clen >= data.length) {
            method = 0;
            body = data;
            clen = data.length;
        }
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        boolean utf8 = nameBytes.length != name.length();
        if (nameBytes.length > MAX16) {
            throw new IllegalArgumentException("zip entry name longer than 65535 bytes: " + name);
        }
        long size = data.length;
        boolean zip64 = size >= MAX32 || clen >= MAX32;
        Central c = new Central(nameBytes, utf8, method, (int) crc.getValue(), clen, size, offset,
                MODE_FILE | (executable ? 0755 : 0644));
        Le h = new Le(30 + nameBytes.length + 20);
        h.i32(0x04034b50).i16(zip64 ? 45 : 20).i16(utf8 ? 1 << 11 : 0).i16(method).i16(DOS_TIME).i16(DOS_DATE)
                .i32(c.crc()).i32(zip64 ? MAX32 : clen).i32(zip64 ? MAX32 : size)
                .i16(nameBytes.length).i16(zip64 ? 20 : 0).bytes(nameBytes);
        if (zip64) {
            h.i16(0x0001).i16(16).i64(size).i64(clen);
        }
        write(h.array(), h.length());
        write(body, clen);
        entries.add(c);
    }

    private int deflate(byte[] data) {
        deflater.reset();
        deflater.setInput(data);
        deflater.finish();
        int len = 0;
        while (!deflater.finished()) {
            if (len == compressed.length) {
                long bigger = Math.min((long) compressed.length * 2, Integer.MAX_VALUE - 8);
                if (bigger <= compressed.length) {
                    throw new IllegalArgumentException("entry too large to compress in memory");
                }
                compressed = Arrays.copyOf(compressed, (int) bigger);
            }
            len += deflater.deflate(compressed, len, compressed.length - len);
        }
        return len;
    }

    private void write(byte[] b, int len) throws IOException {
        out.write(b, 0, len);
        offset += len;
    }

    /** Writes the central directory and end records, then closes the stream. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            deflater.end();
            long cdStart = offset;
            for (Central c : entries) {
                boolean bigSize = c.size() >= MAX32;
                boolean bigComp = c.compressed() >= MAX32;
                boolean bigOff = c.offset() >= MAX32;
                int extra = (bigSize ? 8 : 0) + (bigComp ? 8 : 0) + (bigOff ? 8 : 0);
                boolean zip64 = extra > 0;
                Le h = new Le(46 + c.name().length + (zip64 ? 4 + extra : 0));
                int version = zip64 ? 45 : 20;
                h.i32(0x02014b50).i16((3 << 8) | version).i16(version).i16(c.utf8() ? 1 << 11 : 0).i16(c.method())
                        .i16(DOS_TIME).i16(DOS_DATE).i32(c.crc())
                        .i32(bigComp ? MAX32 : c.compressed()).i32(bigSize ? MAX32 : c.size())
                        .i16(c.name().length).i16(zip64 ? 4 + extra : 0).i16(0).i16(0).i16(0)
                        .i32((long) c.mode() << 16).i32(bigOff ? MAX32 : c.offset()).bytes(c.name());
                if (zip64) {
                    h.i16(0x0001).i16(extra);
                    if (bigSize) {
                        h.i64(c.size());
                    }
                    if (bigComp) {
                        h.i64(c.compressed());
                    }
                    if (bigOff) {
                        h.i64(c.offset());
                    }
                }
                write(h.array(), h.length());
            }
            long cdSize = offset - cdStart;
            int count = entries.size();
            if (count >= MAX16 || cdSize >= MAX32 || cdStart >= MAX32) {
                long eocd64 = offset;
                Le z = new Le(56 + 20);
                z.i32(0x06064b50).i64(44).i16((3 << 8) | 45).i16(45).i32(0).i32(0).i64(count).i64(count)
                        .i64(cdSize).i64(cdStart);
                z.i32(0x07064b50).i32(0).i64(eocd64).i32(1);
                write(z.array(), z.length());
            }
            Le e = new Le(22);
            e.i32(0x06054b50).i16(0).i16(0).i16(Math.min(count, MAX16)).i16(Math.min(count, MAX16))
                    .i32(Math.min(cdSize, MAX32)).i32(Math.min(cdStart, MAX32)).i16(0);
            write(e.array(), e.length());
        } finally {
            out.close();
        }
    }

    /** A little-endian byte builder for headers. */
    private static final class Le {
        private final byte[] b;
        private int n;

        Le(int capacity) {
            b = new byte[capacity];
        }

        Le i16(int v) {
            b[n++] = (byte) v;
            b[n++] = (byte) (v >>> 8);
            return this;
        }

        Le i32(long v) {
            for (int i = 0; i < 4; i++) {
                b[n++] = (byte) (v >>> (8 * i));
            }
            return this;
        }

        Le i64(long v) {
            for (int i = 0; i < 8; i++) {
                b[n++] = (byte) (v >>> (8 * i));
            }
            return this;
        }

        Le bytes(byte[] src) {
            System.arraycopy(src, 0, b, n, src.length);
            n += src.length;
            return this;
        }

        byte[] array() {
            return b;
        }

        int length() {
            return n;
        }
    }
}

package dev.pinfleet.wheel.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/** A minimal zip writer that sets unix modes in the external attributes (made by unix, version 3.0). */
public final class ZipBuilder {
    private ZipBuilder() {}

    /**
     * One entry.
     *
     * @param mode the full unix mode, e.g. 0100644 for a file, 0120777 for a symlink, 040755 for a directory
     */
    public record Item(String name, byte[] content, int mode, boolean deflate) {}

    /** The zip bytes of the entries in order (duplicates allowed: tests need them). */
    public static byte[] zip(List<Item> items) throws IOException {
        return zip(items, Map.of());
    }

    /** As {@link #zip(List)}, but declaring other uncompressed sizes for the named entries (zip bomb tests). */
    public static byte[] zip(List<Item> items, Map<String, Integer> declaredSizes) throws IOException {
        List<Packed> packed = new ArrayList<>(items.size());
        for (Item it : items) {
            packed.add(pack(it, declaredSizes.getOrDefault(it.name(), it.content().length)));
        }
        return zipPacked(packed);
    }

    /** {@code it} as it goes into the archive, declaring {@code size} unpacked bytes. */
    public static Packed pack(Item it, long size) {
        CRC32 crc = new CRC32();
        crc.update(it.content());
        return new Packed(it.name(), it.deflate() ? deflate(it.content()) : it.content(), it.deflate(), crc.getValue(),
                size, it.mode());
    }

    /**
     * An entry whose stored bytes are given as they go into the archive (e.g. the deflate stream of a bomb too
     * large to hold unpacked).
     *
     * @param data    the stored bytes: raw deflate data when {@code deflate}, else the content
     * @param crc     the CRC-32 of the content
     * @param size    the content's size in bytes (at most 4 GiB - 1: no zip64)
     */
    public record Packed(String name, byte[] data, boolean deflate, long crc, long size, int mode) {}

    /** The zip bytes of prepared entries, in order. */
    public static byte[] zipPacked(List<Packed> items) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream cen = new ByteArrayOutputStream();
        for (Packed it : items) {
            byte[] name = it.name().getBytes(StandardCharsets.UTF_8);
            byte[] data = it.data();
            int method = it.deflate() ? 8 : 0;
            long offset = out.size();
            ByteBuffer loc = le(30);
            loc.putInt(0x04034b50).putShort((short) 20).putShort((short) 0x0800).putShort((short) method)
                    .putShort((short) 0).putShort((short) 0x21).putInt((int) it.crc()).putInt(data.length)
                    .putInt((int) it.size()).putShort((short) name.length).putShort((short) 0);
            out.write(loc.array());
            out.write(name);
            out.write(data);
            ByteBuffer c = le(46);
            c.putInt(0x02014b50).putShort((short) (3 << 8 | 30)).putShort((short) 20).putShort((short) 0x0800)
                    .putShort((short) method).putShort((short) 0).putShort((short) 0x21).putInt((int) it.crc())
                    .putInt(data.length).putInt((int) it.size()).putShort((short) name.length)
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                    .putInt(it.mode() << 16).putInt((int) offset);
            cen.write(c.array());
            cen.write(name);
        }
        long cenOffset = out.size();
        cen.writeTo(out);
        ByteBuffer end = le(22);
        end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) items.size())
                .putShort((short) items.size()).putInt(cen.size()).putInt((int) cenOffset).putShort((short) 0);
        out.write(end.array());
        return out.toByteArray();
    }

    /**
     * 2 GiB of zeros as one deflated entry of about 2 MB (1028:1, the ratio deflate reaches on zeros): the
     * decompression bomb of the threat model. The stream is one 16 MiB block of zeros deflated with a full
     * flush (byte-aligned, no reference back), repeated 128 times, and a final empty block, so it is built in a
     * fraction of a second; its CRC and SHA-256 are those of 2^31 zero bytes, computed once:
     * {@code head -c 2147483648 /dev/zero | sha256sum}.
     */
    public static Packed twoGibOfZeros(String name) {
        byte[] zeros = new byte[16 << 20];
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        d.setInput(zeros);
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        int n;
        do {
            n = d.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH);
            block.write(buf, 0, n);
        } while (n == buf.length || !d.needsInput());
        d.end();
        byte[] one = block.toByteArray();
        byte[] stream = new byte[one.length * 128 + 2];
        for (int i = 0; i < 128; i++) {
            System.arraycopy(one, 0, stream, i * one.length, one.length);
        }
        stream[stream.length - 2] = 0x03; // BFINAL, fixed Huffman, end of block
        stream[stream.length - 1] = 0x00;
        return new Packed(name, stream, true, TWO_GIB_OF_ZEROS_CRC32, 1L << 31, 0100644);
    }

    /** CRC-32 of 2^31 zero bytes. */
    public static final long TWO_GIB_OF_ZEROS_CRC32 = 0x4dbdf21cL;
    /** The RECORD hash field of 2^31 zero bytes. */
    public static final String TWO_GIB_OF_ZEROS_SHA256 = "sha256=p8dEwTzBAe1mwp9nL5JFVUeInMWGzm1E_naugklY6lE";

    /**
     * A zip of only a central directory whose deflated entries declare {@code size} unpacked and
     * {@code compressedSize} packed bytes that no data backs (size-cap tests: it can only be refused on open).
     */
    public static byte[] declaredOnly(List<String> names, long size, long compressedSize) {
        ByteArrayOutputStream cen = new ByteArrayOutputStream();
        for (String n : names) {
            byte[] name = n.getBytes(StandardCharsets.UTF_8);
            ByteBuffer c = le(46);
            c.putInt(0x02014b50).putShort((short) (3 << 8 | 30)).putShort((short) 20).putShort((short) 0x0800)
                    .putShort((short) 8).putShort((short) 0).putShort((short) 0x21).putInt(0)
                    .putInt((int) compressedSize).putInt((int) size).putShort((short) name.length)
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                    .putInt(0100644 << 16).putInt(0);
            cen.writeBytes(c.array());
            cen.writeBytes(name);
        }
        ByteBuffer end = le(22);
        end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) names.size())
                .putShort((short) names.size()).putInt(cen.size()).putInt(0).putShort((short) 0);
        cen.writeBytes(end.array());
        return cen.toByteArray();
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] deflate(byte[] in) {
        Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
        d.setInput(in);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf));
        }
        d.end();
        return out.toByteArray();
    }
}

package dev.pinfleet.agent.install;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A minimal reader of ustar, GNU (long names) and pax (path, linkpath, size) tar streams: enough for
 * the application archives a manifest ships. Header checksums are verified.
 *
 * <p>The archive bomb guard covers every byte read from the (decompressed) stream, headers, extended headers
 * and skipped data included, not only the declared sizes of the files extracted: more than
 * {@link Limits#MAX_UNPACKED_BYTES}, or a ratio to the packed size beyond {@link Limits#MAX_RATIO}, is refused.
 * Directory and link entries carry no data; one that declares some is refused.
 */
final class TarReader {
    private static final int BLOCK = 512;
    private static final int MAX_LONG_HEADER = 1 << 20;

    /**
     * One entry.
     *
     * @param name the raw path as stored (may start with "./", may end with '/')
     * @param type the typeflag: '0' file, '5' directory, '2' symlink, '1' hard link, …
     * @param linkTarget the link target of a symlink or hard link, else ""
     */
    record Entry(String name, char type, long size, int mode, String linkTarget) {
        boolean isFile() {
            return type == '0' || type == '\0' || type == '7';
        }
    }

    private final InputStream in;
    private final String label;
    private final long packedBytes;
    private final byte[] header = new byte[BLOCK];
    private long remaining;
    private long padding;
    /** Bytes read from {@code in} so far. */
    private long consumed;
    /** The entry being read, for messages. */
    private String current = "";

    /**
     * @param in the decompressed tar stream
     * @param label the artifact file name, first in every message
     * @param packedBytes size of the compressed file, for the compression ratio guard
     */
    TarReader(InputStream in, String label, long packedBytes) {
        this.in = in;
        this.label = label;
        this.packedBytes = packedBytes;
    }

    /** The next entry, or null at the end of the archive; the previous entry's unread content is skipped. */
    Entry next() throws IOException, InstallException {
        try {
            return readNext();
        } catch (NumberFormatException e) {
            throw InstallException.of(label, "malformed tar header: " + e.getMessage());
        }
    }

    private Entry readNext() throws IOException, InstallException {
        skip(remaining + padding);
        remaining = 0;
        padding = 0;
        String longName = null;
        String longLink = null;
        Long paxSize = null;
        while (true) {
            if (!readBlock()) {
                return null;
            }
            if (isZero(header)) {
                return null;
            }
            verifyChecksum();
            char type = (char) header[156];
            boolean extension = type == 'L' || type == 'K' || type == 'x' || type == 'g';
            long size = parseNumber(124, 12);
            String name = longName != null ? longName : ustarName();
            String link = longLink != null ? longLink : string(157, 100);
            if (paxSize != null && !extension) {
                size = paxSize; // a pax size applies to the entry that follows, not to another extension header
            }
            if (size < 0) {
                throw InstallException.entry(label, name, "negative size");
            }
            current = name;
            switch (type) {
                case 'L' -> longName = stripNul(readSmall(size));
                case 'K' -> longLink = stripNul(readSmall(size));
                case 'x' -> {
                    String pax = readSmall(size);
                    for (String[] kv : paxRecords(pax)) {
                        switch (kv[0]) {
                            case "path" -> longName = kv[1];
                            case "linkpath" -> longLink = kv[1];
                            case "size" -> paxSize = Long.parseLong(kv[1]);
                            default -> { }
                        }
                    }
                }
                case 'g' -> readSmall(size); // global pax defaults: nothing pinfleet uses
                default -> {
                    if ((type == '5' || type == '2' || type == '1') && size != 0) {
                        throw InstallException.entry(label, name, (type == '5' ? "directory" : "link")
                                + " entry declares " + size + " bytes of data; such entries carry none");
                    }
                    remaining = size;
                    padding = pad(size);
                    return new Entry(name, type, remaining, (int) parseNumber(100, 8), link);
                }
            }
        }
    }

    /** Copies the current entry's content. */
    void copyTo(OutputStream out) throws IOException, InstallException {
        byte[] buf = new byte[1 << 16];
        while (remaining > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, remaining));
            if (n < 0) {
                throw new EOFException(label + ": tar stream ends inside entry '" + current + "'");
            }
            account(n);
            out.write(buf, 0, n);
            remaining -= n;
        }
    }

    /** Counts {@code n} more bytes read from the stream; refuses when the archive bomb guard is exceeded. */
    private void account(long n) throws InstallException {
        consumed += n;
        if (consumed > Limits.MAX_UNPACKED_BYTES) {
            throw InstallException.entry(label, current, "the tar stream unpacks to more than "
                    + Limits.MAX_UNPACKED_BYTES + " bytes (archive bomb guard)");
        }
        String ratio = Limits.checkRatio(consumed, packedBytes);
        if (ratio != null) {
            throw InstallException.entry(label, current, "the tar stream's " + ratio + " (archive bomb guard)");
        }
    }

    private String ustarName() {
        String name = string(0, 100);
        String magic = string(257, 6);
        if (magic.startsWith("ustar")) {
            String prefix = string(345, 155);
            if (!prefix.isEmpty()) {
                return prefix + "/" + name;
            }
        }
        return name;
    }

    private boolean readBlock() throws IOException, InstallException {
        int off = 0;
        while (off < BLOCK) {
            int n = in.read(header, off, BLOCK - off);
            if (n < 0) {
                if (off == 0) {
                    return false;
                }
                throw new EOFException(label + ": tar stream ends inside a header");
            }
            off += n;
        }
        account(BLOCK);
        return true;
    }

    private String readSmall(long size) throws IOException, InstallException {
        if (size > MAX_LONG_HEADER) {
            throw InstallException.entry(label, current, "extended tar header of " + size
                    + " bytes is larger than the limit of " + MAX_LONG_HEADER);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) size);
        remaining = size;
        copyTo(out);
        skip(pad(size));
        return out.toString(StandardCharsets.UTF_8);
    }

    private static Iterable<String[]> paxRecords(String pax) {
        java.util.List<String[]> out = new java.util.ArrayList<>();
        int i = 0;
        while (i < pax.length()) {
            int sp = pax.indexOf(' ', i);
            if (sp < 0) {
                break;
            }
            int len;
            try {
                len = Integer.parseInt(pax.substring(i, sp));
            } catch (NumberFormatException e) {
                break;
            }
            int end = i + len;
            if (len <= 0 || end > pax.length() + 1) {
                break;
            }
            String rec = pax.substring(sp + 1, Math.min(end, pax.length()));
            if (rec.endsWith("\n")) {
                rec = rec.substring(0, rec.length() - 1);
            }
            int eq = rec.indexOf('=');
            if (eq > 0) {
                out.add(new String[] {rec.substring(0, eq), rec.substring(eq + 1)});
            }
            i = end;
        }
        return out;
    }

    private void verifyChecksum() throws InstallException {
        long stored = parseNumber(148, 8);
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : (header[i] & 0xff);
        }
        if (sum != stored) {
            throw InstallException.of(label, "tar header checksum mismatch (corrupt or not a tar archive)");
        }
    }

    private long parseNumber(int off, int len) {
        if ((header[off] & 0x80) != 0) {
            long v = header[off] & 0x7f;
            for (int i = 1; i < len; i++) {
                v = (v << 8) | (header[off + i] & 0xff);
            }
            return v;
        }
        String s = string(off, len).strip();
        return s.isEmpty() ? 0 : Long.parseLong(s, 8);
    }

    private String string(int off, int len) {
        int end = off;
        while (end < off + len && header[end] != 0) {
            end++;
        }
        return new String(header, off, end - off, StandardCharsets.UTF_8);
    }

    private static String stripNul(String s) {
        int nul = s.indexOf('\0');
        return nul < 0 ? s : s.substring(0, nul);
    }

    private static boolean isZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static long pad(long size) {
        return (BLOCK - size % BLOCK) % BLOCK;
    }

    private void skip(long n) throws IOException, InstallException {
        while (n > 0) {
            long k = in.skip(Math.min(n, 1 << 20));
            if (k <= 0) {
                if (in.read() < 0) {
                    throw new EOFException(label + ": tar stream ends early");
                }
                k = 1;
            }
            account(k);
            n -= k;
        }
    }
}

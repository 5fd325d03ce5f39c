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
    private final byte[] header = new byte[BLOCK];
    private long remaining;
    private long padding;

    TarReader(InputStream in, String label) {
        this.in = in;
        this.label = label;
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
            long size = parseNumber(124, 12);
            String name = longName != null ? longName : ustarName();
            String link = longLink != null ? longLink : string(157, 100);
            if (paxSize != null) {
                size = paxSize;
            }
            if (size < 0) {
                throw InstallException.entry(label, name, "negative size");
            }
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
                case 'g' -> skip(size + pad(size));
                default -> {
                    remaining = type == '5' || type == '2' || type == '1' ? 0 : size;
                    padding = type == '5' || type == '2' || type == '1' ? 0 : pad(size);
                    if (type == '5' || type == '2' || type == '1') {
                        skip(size + pad(size));
                    }
                    return new Entry(name, type, remaining, (int) parseNumber(100, 8), link);
                }
            }
        }
    }

    /** Copies the current entry's content. */
    void copyTo(OutputStream out) throws IOException {
        byte[] buf = new byte[1 << 16];
        while (remaining > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, remaining));
            if (n < 0) {
                throw new EOFException(label + ": tar stream ends inside an entry");
            }
            out.write(buf, 0, n);
            remaining -= n;
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

    private boolean readBlock() throws IOException {
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
        return true;
    }

    private String readSmall(long size) throws IOException, InstallException {
        if (size > MAX_LONG_HEADER) {
            throw InstallException.of(label, "extended tar header of " + size + " bytes is too large");
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

    private void skip(long n) throws IOException {
        while (n > 0) {
            long k = in.skip(n);
            if (k <= 0) {
                if (in.read() < 0) {
                    throw new EOFException(label + ": tar stream ends early");
                }
                k = 1;
            }
            n -= k;
        }
    }
}

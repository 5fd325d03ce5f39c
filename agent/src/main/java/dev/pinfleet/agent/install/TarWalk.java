package dev.pinfleet.agent.install;

import dev.pinfleet.archive.ArchiveLimits;
import dev.pinfleet.archive.EntryNames;
import dev.pinfleet.archive.ZipArchive;
import dev.pinfleet.manifest.Names;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarUtils;

/**
 * A {@code .tar.gz} read entry by entry with Apache Commons Compress (ustar, GNU long names, pax), every entry checked
 * before it reaches the {@link ArchiveInstaller.Visitor}: safe names, no duplicates, nothing below a file or a
 * symbolic link, only files, directories and symbolic links (hard links, devices, FIFOs and sparse files refused),
 * and the archive bomb guard on the declared sizes. Stricter than the library alone: every header's checksum is
 * verified, extended headers (long names, pax) are bounded, directory and link entries may carry no data, and the
 * guard also covers every byte read from the decompressed stream (headers, extended headers and skipped data
 * included): more than {@link ArchiveLimits#MAX_UNPACKED_BYTES}, or a ratio to the packed size beyond
 * {@link ArchiveLimits#MAX_RATIO}, is refused. Symbolic links are handed on only after every other entry, each checked
 * against all the others ({@link ArchiveInstaller#checkLink}).
 */
final class TarWalk {
    private TarWalk() {}

    /** Largest GNU long-name or pax extended header accepted. */
    static final int MAX_LONG_HEADER = 1 << 20;

    /** Why the stream was refused, raised inside the tar library's reads and turned into an InstallException. */
    private static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;
        final String entry;

        Refused(String entry, String why) {
            super(why);
            this.entry = entry;
        }
    }

    static void walk(Path file, String label, ArchiveInstaller.Visitor v) throws IOException, InstallException {
        long packed = Files.size(file);
        Set<String> dirs = new HashSet<>();
        Set<String> seen = new HashSet<>();
        Set<String> files = new HashSet<>();
        Map<String, String> links = new LinkedHashMap<>();
        long total = 0;
        int count = 0;
        String current = "";
        try (InputStream gz = gunzip(file, label); Strict tar = new Strict(new Guarded(gz, packed))) {
            for (TarArchiveEntry e = next(tar, label, current); e != null; e = next(tar, label, current)) {
                current = e.getName();
                if (++count > ArchiveLimits.MAX_ENTRIES) {
                    throw InstallException.of(label, "more than " + ArchiveLimits.MAX_ENTRIES + " entries");
                }
                String name = normalize(e.getName());
                if (name.isEmpty()) {
                    continue;
                }
                String why = EntryNames.check(name);
                if (why != null) {
                    throw InstallException.entry(label, e.getName(), why);
                }
                if (!seen.add(name)) {
                    throw InstallException.entry(label, e.getName(), "appears twice in the archive (duplicate entry)");
                }
                for (String link : links.keySet()) {
                    if (name.startsWith(link + "/")) {
                        throw InstallException.entry(label, e.getName(), "lies below the symbolic link '" + link + "'");
                    }
                }
                for (int s = name.lastIndexOf('/'); s > 0; s = name.lastIndexOf('/', s - 1)) {
                    if (files.contains(name.substring(0, s))) {
                        throw InstallException.entry(label, e.getName(), "lies below '" + name.substring(0, s)
                                + "', which is a file");
                    }
                }
                char type = (char) e.getLinkFlag();
                if ((type == '5' || type == '2' || type == '1') && e.getSize() != 0) {
                    throw InstallException.entry(label, e.getName(), (type == '5' ? "directory" : "link")
                            + " entry declares " + e.getSize() + " bytes of data; such entries carry none");
                }
                switch (type) {
                    case '5' -> ArchiveInstaller.directories(name, dirs, v);
                    case '2' -> links.put(name, e.getLinkName());
                    case '1' -> throw InstallException.entry(label, e.getName(), "hard link entries are not allowed");
                    default -> {
                        if (!(type == '0' || type == '\0' || type == '7')) {
                            throw InstallException.entry(label, e.getName(), "entry type '" + type
                                    + "' (device, FIFO or unknown) is not allowed");
                        }
                        if (e.isSparse()) {
                            throw InstallException.entry(label, e.getName(), "sparse file entries are not allowed");
                        }
                        total += e.getSize();
                        if (total > ArchiveLimits.MAX_UNPACKED_BYTES) {
                            throw InstallException.entry(label, e.getName(), "declares " + e.getSize()
                                    + " bytes, which brings the archive to " + total + " unpacked bytes, more than the"
                                    + " limit of " + ArchiveLimits.MAX_UNPACKED_BYTES + " (archive bomb guard)");
                        }
                        String ratio = ArchiveLimits.checkRatio(total, packed);
                        if (ratio != null) {
                            throw InstallException.entry(label, e.getName(), ratio + " (archive bomb guard)");
                        }
                        if (dirs.contains(name)) {
                            throw InstallException.entry(label, e.getName(), "is a file, but earlier entries lie below it");
                        }
                        ArchiveInstaller.parents(name, dirs, v);
                        files.add(name);
                        String entry = e.getName();
                        long size = e.getSize();
                        v.file(name, (e.getMode() & 0111) != 0, out -> copy(tar, size, out, label, entry));
                    }
                }
            }
        }
        for (Map.Entry<String, String> link : links.entrySet()) {
            String why = ArchiveInstaller.checkLink(link.getKey(), link.getValue(), links.keySet());
            if (why != null) {
                throw InstallException.entry(label, link.getKey(), "symbolic link to '" + Names.printable(link.getValue())
                        + "' refused: " + why);
            }
            if (dirs.contains(link.getKey())) {
                throw InstallException.entry(label, link.getKey(), "is both a directory and a symbolic link");
            }
            ArchiveInstaller.parents(link.getKey(), dirs, v);
            v.symlink(link.getKey(), link.getValue());
        }
    }

    /** The decompressed stream; a file that does not start as gzip is refused naming it. */
    private static InputStream gunzip(Path file, String label) throws IOException, InstallException {
        InputStream raw = Files.newInputStream(file);
        try {
            return new GZIPInputStream(new BufferedInputStream(raw, 1 << 16), 1 << 16);
        } catch (IOException e) {
            raw.close();
            throw unreadable(label, "", e);
        }
    }

    /** The next entry; a refusal or a stream that cannot be read is an InstallException naming the entry before. */
    private static TarArchiveEntry next(Strict tar, String label, String previous) throws InstallException {
        try {
            return tar.getNextEntry();
        } catch (IOException e) {
            throw unreadable(label, previous, e);
        } catch (IllegalArgumentException e) { // a malformed number the library did not wrap
            throw unreadable(label, previous, new IOException("malformed tar header: " + e.getMessage(), e));
        }
    }

    /** Copies the current entry's content ({@code size} bytes). */
    private static void copy(Strict tar, long size, ZipArchive.Sink out, String label, String entry)
            throws IOException, InstallException {
        byte[] buf = new byte[1 << 16];
        long left = size;
        while (left > 0) {
            int n;
            try {
                n = tar.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    throw new IOException("the stream ends inside the entry");
                }
            } catch (IOException ex) {
                throw unreadable(label, entry, ex);
            }
            out.write(buf, 0, n);
            left -= n;
        }
    }

    private static InstallException unreadable(String label, String entry, IOException e) {
        String why;
        String where = entry;
        if (e instanceof Refused r) {
            why = r.getMessage();
            where = r.entry != null ? r.entry : entry;
        } else {
            Throwable c = e.getCause();
            why = "not a readable tar.gz archive: " + e.getMessage()
                    + (c != null && c.getMessage() != null && !c.getMessage().equals(e.getMessage())
                            ? " (" + c.getMessage() + ")" : "");
        }
        return where.isEmpty() ? InstallException.of(label, why) : InstallException.entry(label, where, why);
    }

    /** Strips leading "./" components and trailing '/'. */
    static String normalize(String name) {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        if (n.equals(".")) {
            return "";
        }
        while (n.endsWith("/")) {
            n = n.substring(0, n.length() - 1);
        }
        return n;
    }

    /** The library's reader with every header record's checksum verified and extended headers bounded. */
    private static final class Strict extends TarArchiveInputStream {
        Strict(InputStream in) {
            super(in, StandardCharsets.UTF_8.name());
        }

        @Override
        protected byte[] readRecord() throws IOException {
            byte[] r = super.readRecord();
            if (r == null || isAtEOF() || isEOFRecord(r)) {
                return r; // the end-of-archive records after the first carry no header
            }
            boolean sumOk;
            try {
                sumOk = TarUtils.verifyCheckSum(r);
            } catch (IllegalArgumentException e) { // a checksum field that is not a number
                sumOk = false;
            }
            if (!sumOk) {
                throw new Refused(null, "tar header checksum mismatch (corrupt or not a tar archive)");
            }
            char type = (char) r[156];
            long extension = type == 'L' || type == 'K' || type == 'x' || type == 'g'
                    ? TarUtils.parseOctalOrBinary(r, 124, 12) : 0; // IllegalArgumentException: malformed header
            if (extension > MAX_LONG_HEADER) {
                throw new Refused(headerName(r), "extended tar header of " + extension
                        + " bytes is larger than the limit of " + MAX_LONG_HEADER);
            }
            return r;
        }

        private static String headerName(byte[] r) {
            int end = 0;
            while (end < 100 && r[end] != 0) {
                end++;
            }
            return new String(r, 0, end, StandardCharsets.UTF_8);
        }
    }

    /** Counts every byte read from the decompressed stream and refuses past the archive bomb guard. */
    static final class Guarded extends FilterInputStream { // package-private: TarWalkTest reads through it directly
        private final long packed;
        private long consumed;

        Guarded(InputStream in, long packed) {
            super(in);
            this.packed = packed;
        }

        @Override
        public int read() throws IOException {
            int c = super.read();
            if (c >= 0) {
                account(1);
            }
            return c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                account(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long k = super.skip(n);
            if (k > 0) {
                account(k);
            }
            return k;
        }

        private void account(long n) throws Refused {
            consumed += n;
            if (consumed > ArchiveLimits.MAX_UNPACKED_BYTES) {
                throw new Refused(null, "the tar stream unpacks to more than " + ArchiveLimits.MAX_UNPACKED_BYTES
                        + " bytes (archive bomb guard)");
            }
            String ratio = ArchiveLimits.checkRatio(consumed, packed);
            if (ratio != null) {
                throw new Refused(null, "the tar stream's " + ratio + " (archive bomb guard)");
            }
        }
    }
}

package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.testing.Descriptors;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tar reader's strictness beyond what the threat suite shows end to end: header checksums, bounded extended
 * headers, data on directory entries, pax names checked like any other, the bomb guard on every byte of the stream.
 */
class TarWalkTest {
    @TempDir
    Path tmp;

    /** What a walk told its visitor, one line per call. */
    private static final class Seen implements ArchiveInstaller.Visitor {
        final List<String> calls = new ArrayList<>();

        @Override
        public void directory(String name) {
            calls.add("dir " + name);
        }

        @Override
        public void file(String name, boolean executable, ArchiveInstaller.Content content)
                throws java.io.IOException, InstallException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            content.writeTo(out::write);
            calls.add((executable ? "exec " : "file ") + name + " " + out.toString(StandardCharsets.UTF_8));
        }

        @Override
        public void symlink(String name, String target) {
            calls.add("link " + name + " -> " + target);
        }
    }

    private Seen walk(Path tgz) throws Exception {
        Seen seen = new Seen();
        TarWalk.walk(tgz, tgz.getFileName().toString(), seen);
        return seen;
    }

    private InstallException refused(Path tgz) {
        return assertThrows(InstallException.class, () -> walk(tgz));
    }

    private Path tar(TarItem... items) throws Exception {
        return TestWheels.tarGz(tmp.resolve("a-" + System.nanoTime() + ".tar.gz"), List.of(items));
    }

    @Test
    void ustarGnuLongNamesAndPaxPathsAreReadDirectoriesFirstLinksLast() throws Exception {
        String deep = "d/".repeat(60) + "deep.txt";
        Seen seen = walk(tar(TarItem.symlink("./run", "bin/run.sh"), TarItem.dir("./bin/"),
                new TarItem("bin/run.sh", '0', 0755, "#!/bin/sh\n".getBytes(StandardCharsets.UTF_8), ""),
                TarItem.file(deep, "deep"),
                new TarItem("PaxHeader", 'x', 0644, pax("path", "from/pax.txt"), ""), TarItem.file("short", "pax")));
        assertEquals(List.of("dir bin", "exec bin/run.sh #!/bin/sh\n"), seen.calls.subList(0, 2));
        assertTrue(seen.calls.contains("file " + deep + " deep"), seen.calls.toString());
        assertTrue(seen.calls.contains("file from/pax.txt pax"), seen.calls.toString());
        assertEquals("link run -> bin/run.sh", seen.calls.get(seen.calls.size() - 1));
    }

    @Test
    void aPaxPathIsCheckedLikeAnyName() throws Exception {
        InstallException e = refused(tar(new TarItem("PaxHeader", 'x', 0644, pax("path", "../evil"), ""),
                TarItem.file("harmless", "x")));
        assertTrue(e.getMessage().endsWith("entry '../evil': path has a '..' component"), e.getMessage());
    }

    @Test
    void aHeaderWithABadChecksumIsRefused() throws Exception {
        Path t = tar(TarItem.file("a.txt", "a"));
        byte[] raw = gunzip(t);
        raw[0] = 'b'; // the name changes, the stored checksum does not
        gzip(t, raw);
        assertTrue(refused(t).getMessage().endsWith("tar header checksum mismatch (corrupt or not a tar archive)"));
    }

    @Test
    void aDirectoryEntryCarryingDataIsRefused() throws Exception {
        InstallException e = refused(tar(new TarItem("d/", '5', 0755, "data".getBytes(StandardCharsets.UTF_8), "")));
        assertTrue(e.getMessage().endsWith("entry 'd/': directory entry declares 4 bytes of data; such entries carry "
                + "none"), e.getMessage());
    }

    @Test
    void extendedHeadersAreBoundedAndCountTowardsTheBombGuard() throws Exception {
        byte[] huge = new byte[TarWalk.MAX_LONG_HEADER + 1];
        Arrays.fill(huge, (byte) 'a');
        InstallException tooLong = refused(tar(new TarItem("././@LongLink", 'L', 0644, huge, ""), TarItem.file("x", "")));
        assertTrue(tooLong.getMessage().contains("extended tar header of " + huge.length + " bytes is larger than the "
                + "limit of " + TarWalk.MAX_LONG_HEADER), tooLong.getMessage());
        // a long name of 1 MiB of one letter: no file declares a byte, yet the stream inflates far beyond 200:1
        byte[] max = Arrays.copyOf(huge, TarWalk.MAX_LONG_HEADER);
        InstallException bomb = refused(tar(new TarItem("././@LongLink", 'L', 0644, max, ""), TarItem.file("y", "")));
        assertTrue(bomb.getMessage().contains("the tar stream's compression ratio"), bomb.getMessage());
        assertTrue(bomb.getMessage().endsWith("exceeds the limit of 200:1 (archive bomb guard)"), bomb.getMessage());
    }

    @Test
    void sparseDevicesAndGarbageAreRefused() throws Exception {
        assertTrue(refused(tar(new TarItem("s", 'S', 0644, new byte[0], ""))).getMessage()
                .endsWith("entry 's': entry type 'S' (device, FIFO or unknown) is not allowed"));
        assertTrue(refused(tar(new TarItem("fifo", '6', 0644, new byte[0], ""))).getMessage()
                .endsWith("entry 'fifo': entry type '6' (device, FIFO or unknown) is not allowed"));
        Path notGzip = Files.writeString(tmp.resolve("plain.tar.gz"), "not a tar at all");
        assertTrue(refused(notGzip).getMessage().startsWith("plain.tar.gz: not a readable tar.gz archive: "));
        assertEquals(0, Descriptors.openOn(notGzip), "the refused file is closed");
        Path t = tar(TarItem.file("cut.txt", "x".repeat(5000)));
        byte[] raw = gunzip(t);
        gzip(t, Arrays.copyOf(raw, 1024)); // the header and half the data
        InstallException cut = refused(t);
        assertTrue(cut.getMessage().startsWith(t.getFileName() + ": entry 'cut.txt': not a readable tar.gz archive: "),
                cut.getMessage());
    }

    @Test
    void oldStyleAndContiguousFilesAreFilesAndEmptyNamesAreSkipped() throws Exception {
        Seen seen = walk(tar(TarItem.dir("./"), TarItem.dir("."), new TarItem("old.txt", '\0', 0644, bytes("v7"), ""),
                new TarItem("./contig.bin", '7', 0755, bytes("c"), ""), TarItem.dir("./d//")));
        assertEquals(List.of("file old.txt v7", "exec contig.bin c", "dir d"), seen.calls);
    }

    @Test
    void aNameSeenTwiceIsRefusedWhateverItsSpelling() throws Exception {
        InstallException e = refused(tar(TarItem.file("a.txt", "1"), TarItem.file("./a.txt", "2")));
        assertTrue(e.getMessage().endsWith("entry './a.txt': appears twice in the archive (duplicate entry)"),
                e.getMessage());
        e = refused(tar(TarItem.dir("d/"), TarItem.dir("./d")));
        assertTrue(e.getMessage().endsWith("entry './d/': appears twice in the archive (duplicate entry)"), e.getMessage());
    }

    @Test
    void aSymbolicLinkWhereFilesNeedADirectoryIsRefused() throws Exception {
        InstallException e = refused(tar(TarItem.file("a/x.txt", "x"), TarItem.symlink("a", "b")));
        assertTrue(e.getMessage().endsWith("entry 'a': is both a directory and a symbolic link"), e.getMessage());
    }

    @Test
    void everyKindOfExtendedHeaderIsBoundedAndNamedInTheRefusal() throws Exception {
        byte[] huge = new byte[TarWalk.MAX_LONG_HEADER + 1];
        Arrays.fill(huge, (byte) 'a');
        for (char type : new char[] {'L', 'K', 'x', 'g'}) {
            // the 'g' header's name fills the whole 100-byte name field, with no NUL after it
            String name = type == 'g' ? "g".repeat(100) : "ext-" + type;
            InstallException e = refused(tar(new TarItem(name, type, 0644, huge, ""), TarItem.file("x", "")));
            assertTrue(e.getMessage().endsWith("entry '" + name + "': extended tar header of " + huge.length
                    + " bytes is larger than the limit of " + TarWalk.MAX_LONG_HEADER), type + ": " + e.getMessage());
        }
    }

    /**
     * The bomb guard counts every byte the tar reader takes from the decompressed stream, through whichever method it
     * reads or skips: a single-byte read() or skip() that bypassed the count would let an archive past the guard.
     * Ratio: 1 byte packed, so the guard trips at the first byte past its 1 MiB floor.
     */
    @Test
    void everyByteReadOneAtATimeCountsTowardsTheBombGuard() throws Exception {
        int floor = (int) dev.pinfleet.archive.ArchiveLimits.RATIO_FLOOR_BYTES;
        byte[] data = new byte[floor + 1];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i; // zero bytes among them count too
        }
        try (TarWalk.Guarded g = new TarWalk.Guarded(new java.io.ByteArrayInputStream(data), 1)) {
            for (int i = 0; i < floor; i++) {
                assertEquals(data[i] & 0xff, g.read(), "byte " + i);
            }
            java.io.IOException e = assertThrows(java.io.IOException.class, g::read, "byte " + floor + " is past the guard");
            assertTrue(e.getMessage().startsWith("the tar stream's compression ratio"), e.getMessage());
            assertTrue(e.getMessage().endsWith("exceeds the limit of 200:1 (archive bomb guard)"), e.getMessage());
        }
    }

    @Test
    void skippedBytesCountTowardsTheBombGuardAsReadOnesDo() throws Exception {
        int floor = (int) dev.pinfleet.archive.ArchiveLimits.RATIO_FLOOR_BYTES;
        try (TarWalk.Guarded g = new TarWalk.Guarded(new java.io.ByteArrayInputStream(new byte[2 * floor]), 1)) {
            assertEquals(floor, g.skip(floor), "a skip up to the floor passes and says how much it skipped");
            java.io.IOException e = assertThrows(java.io.IOException.class, () -> g.skip(1));
            assertTrue(e.getMessage().endsWith("exceeds the limit of 200:1 (archive bomb guard)"), e.getMessage());
        }
    }

    /** The absolute cap: a stream may unpack to exactly MAX_UNPACKED_BYTES (8 GiB), not one byte more. */
    @Test
    void theStreamMayUnpackToTheCapAndNotOneByteMore() throws Exception {
        long cap = dev.pinfleet.archive.ArchiveLimits.MAX_UNPACKED_BYTES;
        InputStream endless = new InputStream() { // skips without holding bytes: 8 GiB without 8 GiB of memory
            @Override
            public int read() {
                return 0;
            }

            @Override
            public long skip(long n) {
                return n;
            }
        };
        try (TarWalk.Guarded g = new TarWalk.Guarded(endless, cap)) { // packed as large: the ratio stays 1:1
            assertEquals(cap, g.skip(cap));
            java.io.IOException e = assertThrows(java.io.IOException.class, () -> g.skip(1));
            assertEquals("the tar stream unpacks to more than " + cap + " bytes (archive bomb guard)", e.getMessage());
        }
    }

    @Test
    void aLinksParentDirectoriesAreMadeBeforeIt() throws Exception {
        Seen seen = walk(tar(TarItem.file("x", "x"), TarItem.symlink("sub/dir/link", "../../x")));
        assertEquals(List.of("file x x", "dir sub", "dir sub/dir", "link sub/dir/link -> ../../x"), seen.calls);
    }

    @Test
    void aFileDeclaringFarMoreThanItsArchiveCouldHoldIsRefusedBeforeItsBytesAreRead() throws Exception {
        InstallException e = refused(tar(TarItem.file("small.txt", "s"),
                new TarItem("zeros.bin", '0', 0644, new byte[4 << 20], "")));
        assertTrue(e.getMessage().contains(": entry 'zeros.bin': compression ratio "), e.getMessage());
        assertTrue(e.getMessage().endsWith("exceeds the limit of 200:1 (archive bomb guard)"), e.getMessage());
    }

    @Test
    void aHeaderTheLibraryCannotParseIsRefusedWithItsReason() throws Exception {
        Path t = tar(TarItem.file("a.txt", "a"));
        byte[] raw = gunzip(t);
        byte[] size = "0000000000z".getBytes(StandardCharsets.US_ASCII); // not an octal number, checksum kept right
        System.arraycopy(size, 0, raw, 124, size.length);
        for (int i = 148; i < 156; i++) {
            raw[i] = ' ';
        }
        long sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += raw[i] & 0xff;
        }
        byte[] chk = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(chk, 0, raw, 148, chk.length);
        gzip(t, raw);
        InstallException e = refused(t);
        assertTrue(e.getMessage().startsWith(t.getFileName() + ": not a readable tar.gz archive: "), e.getMessage());
        assertTrue(e.getMessage().matches(".*: not a readable tar.gz archive: .+ \\(.+\\)"), "names the cause: "
                + e.getMessage());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** One pax extended header record: "LEN key=value\n", LEN counting the whole record. */
    private static byte[] pax(String key, String value) {
        String body = " " + key + "=" + value + "\n";
        int len = body.length() + 1;
        while (String.valueOf(len).length() + body.length() != len) {
            len++;
        }
        return (len + body).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] gunzip(Path p) throws Exception {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
            return in.readAllBytes();
        }
    }

    private static void gzip(Path p, byte[] raw) throws Exception {
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(p))) {
            o.write(raw);
        }
    }
}

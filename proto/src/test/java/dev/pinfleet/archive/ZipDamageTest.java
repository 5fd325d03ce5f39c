package dev.pinfleet.archive;

import static dev.pinfleet.testing.Messages.assertContains;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.testing.Descriptors;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way a zip can lie, each refused with its own reason: what the central directory says (on open, before any
 * byte is inflated) and what the local headers and data turn out to hold (while extracting).
 */
class ZipDamageTest {
    @TempDir
    Path tmp;

    private static final byte[] HELLO = "hello\n".getBytes(StandardCharsets.UTF_8);
    private static final byte[] TEXT = "the quick brown fox jumps over the lazy dog\n".repeat(40)
            .getBytes(StandardCharsets.UTF_8);

    /** a.txt stored, then b.txt deflated: the layout every case below damages. */
    private static byte[] twoEntries() throws Exception {
        return ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("a.txt", HELLO, 0100644, false), HELLO.length),
                ZipBuilder.pack(new ZipBuilder.Item("b.txt", TEXT, 0100755, true), TEXT.length)));
    }

    /** Where the fields are: local header of a.txt at 0, central directory entries, end record last. */
    private record Layout(ByteBuffer b, int localB, int cenA, int cenB, int eocd) {
        static Layout of(byte[] zip) {
            ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
            int eocd = zip.length - 22;
            int cenA = b.getInt(eocd + 16);
            int cenB = cenA + 46 + "a.txt".length();
            return new Layout(b, b.getInt(cenB + 42), cenA, cenB, eocd);
        }
    }

    private Path write(String name, byte[] zip) throws Exception {
        Path file = tmp.resolve(name);
        Files.write(file, zip);
        return file;
    }

    private static byte[] damaged(Consumer<Layout> damage) throws Exception {
        byte[] zip = twoEntries();
        damage.accept(Layout.of(zip));
        return zip;
    }

    private ArchiveException refusedOnOpen(byte[] zip) throws Exception {
        Path file = write("x.zip", zip);
        return assertThrows(ArchiveException.class, () -> ZipArchive.open(file, "x.zip").close());
    }

    /** Extracts {@code entry} of a zip that opens, and returns the refusal. */
    private ArchiveException refusedOnExtract(byte[] zip, int entry) throws Exception {
        Path file = write("x.zip", zip);
        try (ZipArchive z = ZipArchive.open(file, "x.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            return assertThrows(ArchiveException.class, () -> z.extract(z.entries().get(entry), (b, o, l) -> { }, s));
        }
    }

    @Test
    void anUndamagedZipOpensWithWhatItsCentralDirectorySays() throws Exception {
        Path file = write("ok.zip", twoEntries());
        try (ZipArchive z = ZipArchive.open(file, "ok.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            ZipArchive.Entry a = z.entries().get(0);
            ZipArchive.Entry b = z.entries().get(1);
            assertEquals(List.of("a.txt", "b.txt"), List.of(a.name(), b.name()));
            assertEquals(List.of(0, 8), List.of(a.method(), b.method()));
            assertEquals(List.of(0644, 0755), List.of(a.unixMode(), b.unixMode()));
            assertFalse(a.executable());
            assertTrue(b.executable());
            assertEquals(b.localOffset(), a.limit(), "a.txt's bytes must end where b.txt's header starts");
            assertArrayEquals(HELLO, z.read(a, s));
            assertArrayEquals(TEXT, z.read(b, s));
            assertEquals(HELLO.length + TEXT.length, z.inflatedBytes());
            assertEquals("ok.zip", z.label());
        }
    }

    @Test
    void aCentralDirectoryListingEntriesOutOfTheirDataOrderStillGivesEachEntryItsOwnBytes() throws Exception {
        // a valid zip whose central directory lists b.txt before a.txt, though a.txt's data comes first in the file:
        // each entry's bytes end where the next entry in the FILE begins, not the next one in the directory
        byte[] zip = twoEntries();
        Layout l = Layout.of(zip);
        byte[] recordA = Arrays.copyOfRange(zip, l.cenA(), l.cenB());
        byte[] recordB = Arrays.copyOfRange(zip, l.cenB(), l.eocd());
        System.arraycopy(recordB, 0, zip, l.cenA(), recordB.length);
        System.arraycopy(recordA, 0, zip, l.cenA() + recordB.length, recordA.length);
        Path file = write("reordered.zip", zip);
        try (ZipArchive z = ZipArchive.open(file, "reordered.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            ZipArchive.Entry b = z.entries().get(0);
            ZipArchive.Entry a = z.entries().get(1);
            assertEquals(List.of("b.txt", "a.txt"), List.of(b.name(), a.name()), "the directory's order is kept");
            assertEquals(b.localOffset(), a.limit());
            assertEquals(l.cenA(), b.limit(), "the last data in the file ends where the central directory starts");
            assertArrayEquals(TEXT, z.read(b, s));
            assertArrayEquals(HELLO, z.read(a, s));
        }
    }

    @Test
    void whatTheEndRecordSaysIsCheckedFirst() throws Exception {
        assertEquals("x.zip: not a zip file (no end of central directory record)",
                refusedOnOpen(HELLO).getMessage());
        assertEquals("x.zip: not a zip file (no end of central directory record)",
                refusedOnOpen(new byte[0]).getMessage());
        for (int field : new int[] {4, 6}) {
            assertEquals("x.zip: multi-disk zip files are not supported",
                    refusedOnOpen(damaged(l -> l.b().putShort(l.eocd() + field, (short) 1))).getMessage());
        }
        assertEquals("x.zip: zip64 locator missing",
                refusedOnOpen(damaged(l -> l.b().putShort(l.eocd() + 10, (short) 0xFFFF))).getMessage());
        byte[] endOnly = new byte[22]; // an end record at offset 0: no room for a locator before it
        ByteBuffer.wrap(endOnly).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0x06054b50).putShort(10, (short) 0xFFFF);
        assertEquals("x.zip: zip64 locator missing", refusedOnOpen(endOnly).getMessage());
        assertEquals("x.zip: zip64 locator missing",
                refusedOnOpen(damaged(l -> l.b().putInt(l.eocd() + 12, 0xFFFFFFFF))).getMessage());
        assertEquals("x.zip: zip64 locator missing",
                refusedOnOpen(damaged(l -> l.b().putInt(l.eocd() + 16, 0xFFFFFFFF))).getMessage());
        assertEquals("x.zip: central directory out of range (corrupt zip)",
                refusedOnOpen(damaged(l -> l.b().putInt(l.eocd() + 12, l.b().getInt(l.eocd() + 12) + 1))).getMessage());
        assertEquals("x.zip: central directory out of range (corrupt zip)",
                refusedOnOpen(damaged(l -> l.b().putInt(l.eocd() + 16, l.cenA() + 1))).getMessage());
    }

    @Test
    void aZip64EndRecordIsFollowedOrRefused() throws Exception {
        // 65 536 entries: more than the classic end record counts, so java.util.zip writes zip64 records
        int n = 65_536;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            for (int i = 0; i < n; i++) {
                z.putNextEntry(new ZipEntry("d/" + i));
                z.closeEntry();
            }
        }
        byte[] zip = bytes.toByteArray();
        Path file = write("many.zip", zip);
        try (ZipArchive z = ZipArchive.open(file, "many.zip")) {
            assertEquals(n, z.entries().size());
            assertEquals("d/65535", z.entries().get(n - 1).name());
        }
        ByteBuffer b = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        int locator = zip.length - 22 - 20;
        assertEquals(0x07064b50, b.getInt(locator));
        long record = b.getLong(locator + 8);

        b.putLong(locator + 8, zip.length);
        assertEquals("many.zip: zip64 end record out of range", refusal(file, zip));
        b.putLong(locator + 8, -1);
        assertEquals("many.zip: zip64 end record out of range", refusal(file, zip));
        b.putLong(locator + 8, record + 1);
        assertEquals("many.zip: zip64 end record missing", refusal(file, zip));
        int eocd = zip.length - 22;
        b.putLong(locator + 8, eocd - 55); // the record's 56 bytes would overlap the end record
        assertEquals("many.zip: zip64 end record out of range", refusal(file, zip));
        b.putLong(locator + 8, eocd - 56); // within range, but no record there
        assertEquals("many.zip: zip64 end record missing", refusal(file, zip));
        b.putLong(locator + 8, record);
        b.putInt(locator, 0);
        assertEquals("many.zip: zip64 locator missing", refusal(file, zip));
    }

    private static String refusal(Path file, byte[] zip) throws Exception {
        Files.write(file, zip);
        return assertThrows(ArchiveException.class, () -> ZipArchive.open(file, "many.zip").close()).getMessage();
    }

    @Test
    void eachCentralDirectoryEntryIsCheckedBeforeAnythingIsInflated() throws Exception {
        List<Map.Entry<String, Consumer<Layout>>> cases = new ArrayList<>();
        cases.add(Map.entry("x.zip: central directory entry 1 is malformed (corrupt zip)", l -> l.b().putInt(l.cenB(), 0)));
        cases.add(Map.entry("x.zip: central directory entry 1 overruns (corrupt zip)", l -> l.b().putShort(l.cenB() + 32, (short) 400)));
        // one byte too many: the record's own 46 bytes count
        cases.add(Map.entry("x.zip: central directory entry 1 overruns (corrupt zip)", l -> l.b().putShort(l.cenB() + 32, (short) 1)));
        cases.add(Map.entry("x.zip: central directory entry 1 overruns (corrupt zip)", l -> l.b().putShort(l.cenB() + 28, (short) 400)));
        cases.add(Map.entry("x.zip: central directory entry 1 overruns (corrupt zip)", l -> l.b().putShort(l.cenB() + 30, (short) 400)));
        cases.add(Map.entry("x.zip: central directory entry 2 is malformed (corrupt zip)", l -> l.b().putShort(l.eocd() + 10, (short) 3)));
        cases.add(Map.entry("x.zip: entry 'a.txt': symbolic link entries are not allowed", l -> l.b().putInt(l.cenA() + 38, 0120777 << 16)));
        cases.add(Map.entry("x.zip: entry 'a.txt': encrypted entries are not supported", l -> l.b().putShort(l.cenA() + 8, (short) 0x0801)));
        cases.add(Map.entry("x.zip: entry 'b.txt': compression method 12 is not supported (only stored and deflate)",
                l -> l.b().putShort(l.cenB() + 10, (short) 12)));
        cases.add(Map.entry("x.zip: entry 'b.txt': sizes or offset out of range (corrupt zip)",
                l -> l.b().putInt(l.cenB() + 42, l.cenA() + 1)));
        cases.add(Map.entry("x.zip: entry 'a.txt': stored entry declares 6 bytes but holds 7", l -> l.b().putInt(l.cenA() + 20, 7)));
        cases.add(Map.entry("x.zip: entry 'a.txt': is not a regular file or directory (mode 10644)",
                l -> l.b().putInt(l.cenA() + 38, 0010644 << 16)));
        cases.add(Map.entry("x.zip: entry 'a.txt': shares its local header with another entry (zip bomb guard)",
                l -> l.b().putInt(l.cenB() + 42, 0)));
        for (Map.Entry<String, Consumer<Layout>> c : cases) {
            ArchiveException e = refusedOnOpen(damaged(c.getValue()));
            assertEquals(c.getKey(), e.getMessage());
            assertEquals("x.zip", e.file());
            assertEquals(0, e.inflatedBytes());
        }
        // made on another system than unix: no mode, a plain file
        Path file = write("dos.zip", damaged(l -> l.b().putShort(l.cenA() + 4, (short) 20)));
        try (ZipArchive z = ZipArchive.open(file, "dos.zip")) {
            assertEquals(0, z.entries().get(0).unixMode());
            assertFalse(z.entries().get(0).directory());
        }
    }

    @Test
    void aFileCannotAlsoBeADirectoryAndADirectoryModeMakesADirectory() throws Exception {
        byte[] zip = ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("pkg", HELLO, 0100644, false), HELLO.length),
                ZipBuilder.pack(new ZipBuilder.Item("pkg/sub/x.py", HELLO, 0100644, false), HELLO.length)));
        assertEquals("x.zip: entry 'pkg/sub/x.py': lies below 'pkg', which is a file", refusedOnOpen(zip).getMessage());
        byte[] dirs = ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("pkg", new byte[0], 040755, false), 0),
                ZipBuilder.pack(new ZipBuilder.Item("pkg/sub/", new byte[0], 0, false), 0),
                ZipBuilder.pack(new ZipBuilder.Item("pkg/sub/x.py", HELLO, 0100644, false), HELLO.length)));
        Path file = write("dirs.zip", dirs);
        try (ZipArchive z = ZipArchive.open(file, "dirs.zip")) {
            assertEquals(List.of(true, true, false), z.entries().stream().map(ZipArchive.Entry::directory).toList());
            assertEquals(List.of("pkg", "pkg/sub", "pkg/sub/x.py"), z.entries().stream().map(ZipArchive.Entry::name).toList());
        }
        byte[] twice = ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("pkg/", new byte[0], 0, false), 0),
                ZipBuilder.pack(new ZipBuilder.Item("pkg", HELLO, 0100644, false), HELLO.length)));
        assertEquals("x.zip: entry 'pkg': appears twice in the archive (duplicate entry)", refusedOnOpen(twice).getMessage());
    }

    @Test
    void manySmallEntriesThatTogetherInflateTooFarAreABomb() throws Exception {
        // each entry at the 1 MiB floor is exempt on its own; the archive as a whole is not
        Path file = write("x.zip", ZipBuilder.declaredOnly(List.of("a", "b", "c"), ArchiveLimits.RATIO_FLOOR_BYTES, 10));
        ArchiveException e = assertThrows(ArchiveException.class, () -> ZipArchive.open(file, "x.zip").close());
        assertContains(e.getMessage(), "x.zip: whole archive compression ratio ", "(3145728 bytes from " + Files.size(file)
                + ") exceeds the limit of 200:1 (zip bomb guard)");
        assertNull(ArchiveLimits.checkRatio(ArchiveLimits.RATIO_FLOOR_BYTES, 1), "at the floor: exempt");
        assertNull(ArchiveLimits.checkRatio(200 * 6000, 6000), "at the limit: accepted");
        assertContains(ArchiveLimits.checkRatio(200 * 6000 + 1, 6000), "compression ratio 200:1 (1200001 bytes from 6000)");
        assertContains(ArchiveLimits.checkRatio(ArchiveLimits.RATIO_FLOOR_BYTES + 1, 0), "compression ratio 1048577:1");
    }

    @Test
    void theLocalHeadersAndDataMustAgreeWithTheCentralDirectory() throws Exception {
        assertEquals("x.zip: entry 'b.txt': local header missing (corrupt zip)",
                refusedOnExtract(damaged(l -> l.b().putInt(l.localB(), 0)), 1).getMessage());
        assertEquals("x.zip: entry 'a.txt': local header names 'c.txt' instead (ambiguous zip)",
                refusedOnExtract(damaged(l -> l.b().put(30, (byte) 'c')), 0).getMessage());
        assertEquals("x.zip: entry 'a.txt': local header overlaps the next entry (corrupt zip)",
                refusedOnExtract(damaged(l -> l.b().putShort(28, (short) 100)), 0).getMessage());
        assertEquals("x.zip: entry 'b.txt': data overlaps the next entry (zip bomb guard)",
                refusedOnExtract(damaged(l -> l.b().putInt(l.cenB() + 20, l.b().getInt(l.cenB() + 20) + 1)), 1)
                        .getMessage());
        assertEquals("x.zip: entry 'a.txt': CRC mismatch (corrupt zip)",
                refusedOnExtract(damaged(l -> l.b().put(30 + 5, (byte) 'j')), 0).getMessage());
        assertEquals("x.zip: entry 'b.txt': CRC mismatch (corrupt zip)",
                refusedOnExtract(damaged(l -> l.b().putInt(l.cenB() + 16, l.b().getInt(l.cenB() + 16) ^ 1)), 1)
                        .getMessage());
        assertEquals("x.zip: entry 'b.txt': unpacks to " + TEXT.length + " bytes but declares " + (TEXT.length + 1),
                refusedOnExtract(damaged(l -> l.b().putInt(l.cenB() + 24, TEXT.length + 1)), 1).getMessage());
        assertEquals("x.zip: entry 'b.txt': compressed data ends early (corrupt zip)",
                refusedOnExtract(damaged(l -> l.b().putInt(l.cenB() + 20, 5)), 1).getMessage());
        ArchiveException garbage = refusedOnExtract(damaged(l -> {
            for (int i = 0; i < 8; i++) { // the first block's type: 3, reserved
                l.b().put(l.localB() + 30 + 5 + i, (byte) 0xFF);
            }
        }), 1);
        assertContains(garbage.getMessage(), "x.zip: entry 'b.txt': corrupt deflate data: ");
    }

    @Test
    void aLocalHeaderMayNameADirectoryWithItsSlash() throws Exception {
        // an entry's name is kept without the slash a directory's name is stored with
        byte[] zip = ZipBuilder.zipPacked(List.of(ZipBuilder.pack(new ZipBuilder.Item("pkg/", new byte[0], 040755, false), 0)));
        Path file = write("d.zip", zip);
        try (ZipArchive z = ZipArchive.open(file, "d.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            assertArrayEquals(new byte[0], z.read(z.entries().get(0), s));
        }
    }

    @Test
    void aMetadataFileLargerThanTheLimitIsNotReadIntoMemory() throws Exception {
        // the large entry's data is never inflated: read() refuses from its declared size
        int packed = 400 << 10;
        ZipBuilder.Packed big = new ZipBuilder.Packed("METADATA", new byte[packed], true, 0,
                ArchiveLimits.MAX_METADATA_BYTES + 1L, 0100644);
        ZipBuilder.Packed pad = ZipBuilder.pack(new ZipBuilder.Item("pad", new byte[packed], 0100644, false), packed);
        Path file = write("meta.zip", ZipBuilder.zipPacked(List.of(pad, big)));
        try (ZipArchive z = ZipArchive.open(file, "meta.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            ArchiveException e = assertThrows(ArchiveException.class, () -> z.read(z.entries().get(1), s));
            assertEquals("meta.zip: entry 'METADATA': metadata file of " + (ArchiveLimits.MAX_METADATA_BYTES + 1)
                    + " bytes is larger than the limit of " + ArchiveLimits.MAX_METADATA_BYTES, e.getMessage());
            assertEquals(0, z.inflatedBytes());
        }
        // exactly at the limit it is read (and here found to be no deflate data)
        ZipBuilder.Packed atLimit = new ZipBuilder.Packed("METADATA", new byte[packed], true, 0,
                ArchiveLimits.MAX_METADATA_BYTES, 0100644);
        Path edge = write("edge.zip", ZipBuilder.zipPacked(List.of(pad, atLimit)));
        try (ZipArchive z = ZipArchive.open(edge, "edge.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            ArchiveException e = assertThrows(ArchiveException.class, () -> z.read(z.entries().get(1), s));
            assertFalse(e.getMessage().contains("larger than the limit"), e.getMessage());
        }
    }

    @Test
    void aStoredEntryLargerThanOneReadArrivesWhole() throws Exception {
        byte[] content = new byte[(1 << 20) + 12345];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i % 251);
        }
        Path file = write("s.zip", ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("s.bin", content, 0100644, false), content.length))));
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        try (ZipArchive z = ZipArchive.open(file, "s.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            z.extract(z.entries().get(0), got::write, s);
        }
        assertArrayEquals(content, got.toByteArray(), "read in several 256 KiB steps");
    }


    @Test
    void aRefusedZipAndAClosedOneLeaveNoFileOpen() throws Exception {
        Path bad = write("bad.zip", damaged(l -> l.b().putShort(l.cenA() + 8, (short) 1)));
        assertThrows(ArchiveException.class, () -> ZipArchive.open(bad, "bad.zip"));
        assertEquals(0, Descriptors.openOn(bad));
        Path ok = write("ok.zip", twoEntries());
        ZipArchive z = ZipArchive.open(ok, "ok.zip");
        assertEquals(1, Descriptors.openOn(ok));
        z.close();
        assertEquals(0, Descriptors.openOn(ok));
    }

    @Test
    void oneScratchServesEntryAfterEntryAndLargeEntriesArriveWhole() throws Exception {
        // more than the 1 MiB output buffer and several 256 KiB reads of incompressible data, last in the file
        byte[] big = new byte[(3 << 19) + 1000];
        new java.util.Random(11).nextBytes(big);
        Path file = write("seq.zip", ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("one.txt", TEXT, 0100644, true), TEXT.length),
                ZipBuilder.pack(new ZipBuilder.Item("two.txt", HELLO, 0100644, true), HELLO.length),
                ZipBuilder.pack(new ZipBuilder.Item("big.bin", big, 0100644, true), big.length))));
        try (ZipArchive z = ZipArchive.open(file, "seq.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            assertArrayEquals(TEXT, z.read(z.entries().get(0), s));
            assertArrayEquals(HELLO, z.read(z.entries().get(1), s), "the inflater starts afresh for each entry");
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            z.extract(z.entries().get(2), got::write, s);
            assertArrayEquals(big, got.toByteArray());
        }
    }

    @Test
    void aFileCutShortAfterOpenIsAnIoErrorNamingTheOffset() throws Exception {
        byte[] zip = twoEntries();
        Path file = write("cut.zip", zip);
        try (ZipArchive z = ZipArchive.open(file, "cut.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(20); // inside a.txt's local header: a short read, then the end
            }
            IOException e = assertThrows(IOException.class, () -> z.read(z.entries().get(0), s));
            assertEquals("cut.zip: unexpected end of file at offset 20", e.getMessage());
            e = assertThrows(IOException.class, () -> z.read(z.entries().get(1), s));
            assertEquals("cut.zip: unexpected end of file at offset " + z.entries().get(1).localOffset(), e.getMessage());
        }
    }

    @Test
    void limitsHoldAtTheirEdges() throws Exception {
        // exactly 8 GiB declared: within the cap, refused only as a whole-archive ratio (nothing backs it)
        Path eight = write("eight.zip", ZipBuilder.declaredOnly(List.of("a", "b", "c", "d"), 1L << 31, (1L << 31) / 10));
        assertContains(assertThrows(ArchiveException.class, () -> ZipArchive.open(eight, "eight.zip")).getMessage(),
                "eight.zip: whole archive compression ratio");
        // exactly the entry limit: counted, then the (missing) central directory is what is wrong
        ByteBuffer b = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0xFFFF);
        ByteBuffer z64 = ByteBuffer.allocate(56 + 20).order(ByteOrder.LITTLE_ENDIAN);
        z64.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(ArchiveLimits.MAX_ENTRIES).putLong(ArchiveLimits.MAX_ENTRIES).putLong(0).putLong(0);
        z64.putInt(0x07064b50).putInt(0).putLong(0).putInt(1);
        byte[] max = new byte[76 + 22];
        System.arraycopy(z64.array(), 0, max, 0, 76);
        System.arraycopy(b.array(), 0, max, 76, 22);
        assertEquals("x.zip: central directory entry 0 is malformed (corrupt zip)", refusedOnOpen(max).getMessage());
        // an empty zip: a central directory of nothing at offset 0
        byte[] empty = new byte[22];
        ByteBuffer.wrap(empty).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0x06054b50);
        try (ZipArchive z = ZipArchive.open(write("empty.zip", empty), "empty.zip")) {
            assertEquals(List.of(), z.entries());
        }
    }

    /**
     * a.txt and b.txt stored; a.txt's central directory entry has {@code extra} fields and a comment, and the
     * 32-bit fields named in {@code inExtra} ("size", "csize", "offset") set to 0xFFFFFFFF.
     */
    private static byte[] withExtra(byte[] extra, Set<String> inExtra) {
        return withExtra(extra, inExtra, "a comment".getBytes(StandardCharsets.UTF_8));
    }

    /** As {@link #withExtra(byte[], Set)} with {@code comment} after the extra fields. */
    private static byte[] withExtra(byte[] extra, Set<String> inExtra, byte[] comment) {
        ByteBuffer out = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        CRC32 crc = new CRC32();
        crc.update(HELLO);
        int[] offsets = new int[2];
        for (int i = 0; i < 2; i++) {
            offsets[i] = out.position();
            out.putInt(0x04034b50).putShort((short) 20).putShort((short) 0x0800).putShort((short) 0).putShort((short) 0)
                    .putShort((short) 0x21).putInt((int) crc.getValue()).putInt(6).putInt(6).putShort((short) 5)
                    .putShort((short) 0).put((i == 0 ? "a.txt" : "b.txt").getBytes(StandardCharsets.UTF_8)).put(HELLO);
        }
        int cen = out.position();
        for (int i = 0; i < 2; i++) {
            boolean a = i == 0;
            out.putInt(0x02014b50).putShort((short) (3 << 8 | 30)).putShort((short) 20).putShort((short) 0x0800)
                    .putShort((short) 0).putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue())
                    .putInt(a && inExtra.contains("csize") ? -1 : 6).putInt(a && inExtra.contains("size") ? -1 : 6)
                    .putShort((short) 5).putShort((short) (a ? extra.length : 0)).putShort((short) (a ? comment.length : 0))
                    .putShort((short) 0).putShort((short) 0).putInt(0100644 << 16)
                    .putInt(a && inExtra.contains("offset") ? -1 : offsets[i])
                    .put((a ? "a.txt" : "b.txt").getBytes(StandardCharsets.UTF_8));
            if (a) {
                out.put(extra).put(comment);
            }
        }
        int cenSize = out.position() - cen;
        out.putInt(0x06054b50).putInt(0).putShort((short) 2).putShort((short) 2).putInt(cenSize).putInt(cen)
                .putShort((short) 0);
        return Arrays.copyOf(out.array(), out.position());
    }

    private static byte[] extraField(int id, long... values) {
        ByteBuffer f = ByteBuffer.allocate(4 + 8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        f.putShort((short) id).putShort((short) (8 * values.length));
        for (long v : values) {
            f.putLong(v);
        }
        return f.array();
    }

    @Test
    void zip64SizesAndOffsetsComeFromTheExtraFieldInItsOrder() throws Exception {
        byte[] other = {0x55, 0x54, 5, 0, 1, 2, 3, 4, 5}; // a timestamp field (0x5455, 5 bytes) before it
        byte[] all = extraField(1, 6, 6, 0);
        byte[] both = Arrays.copyOf(other, other.length + all.length);
        System.arraycopy(all, 0, both, other.length, all.length);
        for (byte[] zip : List.of(withExtra(both, Set.of("size", "csize", "offset")),
                withExtra(extraField(1, 0), Set.of("offset")), withExtra(extraField(1, 6, 6), Set.of("size", "csize")))) {
            Path file = write("z64.zip", zip);
            try (ZipArchive z = ZipArchive.open(file, "z64.zip"); ZipArchive.Scratch s = new ZipArchive.Scratch()) {
                assertEquals(List.of("a.txt", "b.txt"), z.entries().stream().map(ZipArchive.Entry::name).toList());
                assertArrayEquals(HELLO, z.read(z.entries().get(0), s));
                assertArrayEquals(HELLO, z.read(z.entries().get(1), s));
            }
        }
        // a field too short for what is marked as in it: the 32-bit marker stays, and is refused
        assertEquals("x.zip: entry 'a.txt': stored entry declares 6 bytes but holds 4294967295",
                refusedOnOpen(withExtra(extraField(1, 6), Set.of("size", "csize"))).getMessage());
        assertEquals("x.zip: entry 'a.txt': sizes or offset out of range (corrupt zip)",
                refusedOnOpen(withExtra(extraField(1, 6, 6), Set.of("size", "csize", "offset"))).getMessage());
        assertEquals("x.zip: entry 'a.txt': stored entry declares 4294967295 bytes but holds 6",
                refusedOnOpen(withExtra(extraField(1), Set.of("size"))).getMessage(), "an empty field holds no size");
        // what follows the field (a comment of zeros here) is never read as its offset
        assertEquals("x.zip: entry 'a.txt': sizes or offset out of range (corrupt zip)",
                refusedOnOpen(withExtra(extraField(1, 6, 6), Set.of("size", "csize", "offset"), new byte[8])).getMessage());
    }
}

package dev.pinfleet.archive;

import static dev.pinfleet.testing.Messages.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.wheel.testing.ZipBuilder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The archive limits hold from the central directory, before anything is inflated. */
class ZipArchiveTest {
    @TempDir
    Path tmp;


    @Test
    void twoGibibytesOfZerosAreRefusedOnOpenWithNothingInflated() throws Exception {
        Path zip = tmp.resolve("bomb.zip");
        Files.write(zip, ZipBuilder.zipPacked(List.of(ZipBuilder.twoGibOfZeros("zeros.bin"))));
        ArchiveException e = assertThrows(ArchiveException.class, () -> ZipArchive.open(zip, "bomb.zip").close());
        assertContains(e.getMessage(), "bomb.zip: entry 'zeros.bin': compression ratio 1028:1 (2147483648 bytes from ",
                "exceeds the limit of " + ArchiveLimits.MAX_RATIO + ":1 (zip bomb guard)");
        assertEquals("zeros.bin", e.entry());
        assertEquals(0, e.inflatedBytes(), "refused from the central directory: nothing may have been inflated");
    }

    @Test
    void inflatedBytesBeyondTheDeclaredSizeNeverReachTheSink() throws Exception {
        byte[] content = new byte[4 << 20];
        new Random(7).nextBytes(content); // incompressible: the ratio guard does not stop it first
        int declared = 3 << 19; // 1.5 MiB
        Path zip = tmp.resolve("long.zip");
        Files.write(zip, ZipBuilder.zip(List.of(new ZipBuilder.Item("long.bin", content, 0100644, true)),
                Map.of("long.bin", declared)));
        long[] received = new long[1];
        try (ZipArchive archive = ZipArchive.open(zip, "long.zip"); ZipArchive.Scratch scratch = new ZipArchive.Scratch()) {
            ArchiveException e = assertThrows(ArchiveException.class,
                    () -> archive.extract(archive.entries().get(0), (b, off, len) -> received[0] += len, scratch));
            assertContains(e.getMessage(), "long.zip: entry 'long.bin'", "more than its declared size of " + declared);
            // inflated in scratch-buffer steps: at most one buffer more than declared, never handed on
            assertTrue(e.inflatedBytes() > declared && e.inflatedBytes() <= declared + (1 << 20), e.getMessage());
            assertEquals(e.inflatedBytes(), archive.inflatedBytes());
        }
        assertTrue(received[0] <= declared, received[0] + " bytes reached the sink, more than the declared " + declared);
    }

    @Test
    void zipDeclaringMoreThanTheUnpackedLimitIsRefusedOnOpen() throws Exception {
        // three entries declaring 3 GiB each (ratio within bounds): 9 GiB > the 8 GiB cap, refused before extracting
        long each = 3L << 30;
        Path zip = tmp.resolve("huge.zip");
        Files.write(zip, ZipBuilder.declaredOnly(List.of("a.bin", "b.bin", "c.bin"), each, each / 10));
        ArchiveException e = assertThrows(ArchiveException.class, () -> ZipArchive.open(zip, "huge.zip").close());
        assertContains(e.getMessage(), "huge.zip: entry 'c.bin'", "declares " + each + " bytes", "to " + 3 * each
                + " unpacked bytes", "more than the limit of " + ArchiveLimits.MAX_UNPACKED_BYTES);
    }

    @Test
    void moreEntriesThanTheLimitAreRefusedBeforeTheCentralDirectoryIsRead() throws Exception {
        // a zip64 end record claiming one entry too many, and no central directory at all
        ByteBuffer b = ByteBuffer.allocate(56 + 20 + 22).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(ArchiveLimits.MAX_ENTRIES + 1).putLong(ArchiveLimits.MAX_ENTRIES + 1).putLong(0).putLong(0);
        b.putInt(0x07064b50).putInt(0).putLong(0).putInt(1);
        b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) 0xFFFF).putShort((short) 0xFFFF)
                .putInt(0xFFFFFFFF).putInt(0xFFFFFFFF).putShort((short) 0);
        Path zip = tmp.resolve("many.zip");
        Files.write(zip, b.array());
        ArchiveException e = assertThrows(ArchiveException.class, () -> ZipArchive.open(zip, "many.zip").close());
        assertEquals("many.zip: " + (ArchiveLimits.MAX_ENTRIES + 1) + " entries, more than the limit of "
                + ArchiveLimits.MAX_ENTRIES, e.getMessage());
    }

    @Test
    void entryNamesAreCheckedOnce() {
        assertEquals("path has a '..' component", EntryNames.check("a/../../b"));
        assertEquals("path is absolute", EntryNames.check("/etc/passwd"));
        assertEquals("path has a drive letter", EntryNames.check("C:evil"));
        assertEquals("path contains a backslash", EntryNames.check("a\\b"));
        assertEquals("path contains a backslash", EntryNames.check("\\b"));
        assertEquals("path contains a NUL character", EntryNames.check("\0b"));
        assertEquals(null, EntryNames.check("pkg/__init__.py"));
    }
}

package dev.pinfleet.mirror.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.pack.DirectoryZip;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An app's code archive published like a wheel: checked with the agents' zip rules, audited, never indexed. */
class ArchivePublishTest {
    @TempDir Path dir;

    private Path packed(String name) throws Exception {
        Path src = Files.createDirectories(dir.resolve("src/pkg"));
        Files.writeString(src.resolve("__init__.py"), "X = 1\n");
        Files.writeString(dir.resolve("src/VERSION"), "1\n");
        Path zip = dir.resolve(name);
        try (OutputStream out = Files.newOutputStream(zip)) {
            DirectoryZip.pack(dir.resolve("src"), out);
        }
        return zip;
    }

    @Test
    void aPackedDirectoryIsPublishedUnderItsNameAuditedAndLeftOutOfTheIndex() throws Exception {
        Path zip = packed("shop-app-0123abcd.zip");
        Path again = dir.resolve("again.zip");
        try (OutputStream out = Files.newOutputStream(again)) {
            DirectoryZip.pack(dir.resolve("src"), out);
        }
        assertEquals(Hashing.sha256Hex(zip), Hashing.sha256Hex(again), "the same tree packs to the same bytes");
        Path mirror = dir.resolve("mirror");
        PublishResult r = new Publisher().publish(mirror, zip, "alice", "1");
        assertEquals("packages/shop-app/shop-app-0123abcd.zip", r.file());
        assertEquals(PublishResult.Outcome.PUBLISHED, r.outcome());
        assertTrue(Files.readString(mirror.resolve("audit.log")).contains("\"file\":\"packages/shop-app/shop-app-0123abcd.zip\""));
        Path page = mirror.resolve("simple/shop-app/index.html");
        assertFalse(Files.exists(page) && Files.readString(page).contains(".zip"), "pip never sees an app archive");
    }

    @Test
    void anArchiveWithAnUnsafeEntryOrABadNameIsRefusedAndNothingIsPlaced() throws Exception {
        Path evil = dir.resolve("shop-app-1.zip");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(evil))) {
            z.putNextEntry(new ZipEntry("../escape.py"));
            z.write("x".getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
        }
        Path mirror = dir.resolve("mirror");
        PublishException e = assertThrows(PublishException.class, () -> new Publisher().publish(mirror, evil, "alice", "1"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
        assertTrue(e.getMessage().contains("../escape.py"), e.getMessage());
        assertFalse(Files.exists(mirror.resolve("packages/shop-app/shop-app-1.zip")));

        // a central directory the rules accept, but an entry whose bytes are not what it declares: found only
        // by inflating every file, as an agent would before it installs
        byte[] content = "X = 1\n".getBytes(StandardCharsets.UTF_8);
        ZipBuilder.Packed good = ZipBuilder.pack(new ZipBuilder.Item("pkg/__init__.py", content, 0100644, false),
                content.length);
        Path damaged = dir.resolve("shop-app-2.zip");
        Files.write(damaged, ZipBuilder.zipPacked(List.of(
                ZipBuilder.pack(new ZipBuilder.Item("pkg/", new byte[0], 040755, false), 0),
                new ZipBuilder.Packed(good.name(), good.data(), false, good.crc() ^ 1, good.size(), good.mode()))));
        PublishException crc = assertThrows(PublishException.class,
                () -> new Publisher().publish(mirror, damaged, "alice", "1"));
        assertEquals(PublishException.Reason.INVALID, crc.reason());
        assertTrue(crc.getMessage().contains("shop-app-2.zip: entry 'pkg/__init__.py': CRC mismatch"), crc.getMessage());
        assertFalse(Files.exists(mirror.resolve("packages/shop-app")));

        Path noVersion = packed("justaname.zip");
        PublishException n = assertThrows(PublishException.class,
                () -> new Publisher().publishAll(mirror, List.of(noVersion), "alice", "1"));
        assertTrue(n.getMessage().contains("must be named NAME-VERSION.zip"), n.getMessage());
    }
}

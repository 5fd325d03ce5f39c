package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The cache entry's index: what is written is read back as it was; anything else is no entry, or refused by line. */
class WheelIndexTest {
    @TempDir
    Path dir;

    private static final List<WheelIndex.FileEntry> FILES = List.of(
            new WheelIndex.FileEntry("alpha/__init__.py", 6, "sha256=abc", false, false),
            new WheelIndex.FileEntry("alpha/run.sh", 12, "sha256=def", true, false),
            new WheelIndex.FileEntry("alpha-1.0.data/scripts/alpha-tool", 30, "sha256=ghi", true, true),
            new WheelIndex.FileEntry("alpha/with\ttab and space.txt", 0, "sha256=jkl", false, false));

    @Test
    void whatIsWrittenIsReadBack() throws Exception {
        WheelIndex written = new WheelIndex(dir, "alpha-1.0.dist-info", "Alpha", "1.0", false, FILES);
        written.write(dir.resolve("index"));
        assertEquals(written, WheelIndex.read(dir));
        WheelIndex purelib = new WheelIndex(dir, "alpha-1.0.dist-info", "Alpha", "1.0", true, List.of());
        Files.delete(dir.resolve("index"));
        purelib.write(dir.resolve("index"));
        assertEquals(purelib, WheelIndex.read(dir));
        assertEquals("alpha-1.0.data", purelib.dataDir());
        assertEquals(dir.resolve("files/alpha/__init__.py"), purelib.file("alpha/__init__.py"));
    }

    @Test
    void noIndexOrAnotherFormatIsNoEntry() throws Exception {
        assertNull(WheelIndex.read(dir));
        Files.writeString(dir.resolve("index"), "pinfleet-wheel-index 0\nname\ta\nversion\t1\ndist-info\ta-1.dist-info\n"
                + "purelib\ttrue\n");
        assertNull(WheelIndex.read(dir), "an entry of an older format is unpacked again");
        Files.writeString(dir.resolve("index"), WheelIndex.FORMAT + "\nname\ta\nversion\t1\ndist-info\ta-1.dist-info\n");
        assertNull(WheelIndex.read(dir), "a header cut short");
    }

    @Test
    void aDamagedLineIsRefusedNamingTheFileAndLine() throws Exception {
        String head = WheelIndex.FORMAT + "\nname\ta\nversion\t1\ndist-info\ta-1.dist-info\npurelib\ttrue\n";
        Path index = dir.resolve("index");
        Files.writeString(index, head + "F\t-\t1\tsha256=x\ta/ok.py\nF\t-\t1\tsha256=x\n");
        IOException e = assertThrows(IOException.class, () -> WheelIndex.read(dir));
        assertEquals("cache index " + index + " line 7 is malformed", e.getMessage());
        Files.writeString(index, head + "G\t-\t1\tsha256=x\ta/ok.py\n");
        assertTrue(assertThrows(IOException.class, () -> WheelIndex.read(dir)).getMessage().endsWith("line 6 is malformed"));
        Files.writeString(index, WheelIndex.FORMAT + "\nname\ta\nversion\t1\ndistinfo\ta-1.dist-info\npurelib\ttrue\n");
        e = assertThrows(IOException.class, () -> WheelIndex.read(dir));
        assertEquals("cache index line 'distinfo\ta-1.dist-info' should start with dist-info", e.getMessage());
    }
}

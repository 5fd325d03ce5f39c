package dev.pinfleet.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.wheel.testing.WheelBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WheelMetadataTest {
    @TempDir
    Path tmp;

    @Test
    void parsesHeadersCaseInsensitivelyWithContinuationsAndIgnoresTheBody() {
        WheelMetadata m = WheelMetadata.parse("Metadata-Version: 2.1\r\nname: Foo.Bar\r\nVERSION: 1.2.3\r\n"
                + "Requires-Python: >=3.8,\r\n  <4\r\nRequires-Dist: idna (>=2.5)\r\n"
                + "Requires-Dist: six; extra == \"x\"\r\n\r\nRequires-Dist: not-a-header\r\n");
        assertEquals(new WheelMetadata("Foo.Bar", "1.2.3", ">=3.8, <4",
                List.of("idna (>=2.5)", "six; extra == \"x\"")), m);
    }

    @Test
    void missingNameOrVersionIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> WheelMetadata.parse("Version: 1\n"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WheelMetadata.parse("Name: x\n"));
        assertTrue(e.getMessage().contains("Version"), e.getMessage());
    }

    @Test
    void latin1MetadataStillDecodes() {
        byte[] latin1 = "Name: caf\u00e9\nVersion: 1\n".getBytes(StandardCharsets.ISO_8859_1);
        assertEquals("caf\u00e9", WheelMetadata.parse(WheelMetadata.decode(latin1)).name());
    }

    @Test
    void readsMetadataFromAWheel() throws Exception {
        Path whl = new WheelBuilder("demo", "0.1").requiresPython(">=3.7").file("demo.py", "print(1)\n").build(tmp);
        WheelMetadata m = WheelMetadata.read(whl);
        assertEquals("demo", m.name());
        assertEquals("0.1", m.version());
        assertEquals(">=3.7", m.requiresPython());
    }

    @Test
    void wheelWithoutOrWithTwoDistInfosIsRefused() throws Exception {
        Path none = tmp.resolve("x-1-py3-none-any.whl");
        Files.write(none, new byte[] {'P', 'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        IOException e = assertThrows(IOException.class, () -> WheelMetadata.read(none));
        assertEquals("x-1-py3-none-any.whl: no .dist-info directory", e.getMessage());

        Path two = new WheelBuilder("y", "1").file("z-1.dist-info/METADATA", "Name: z\nVersion: 1\n").build(tmp);
        e = assertThrows(IOException.class, () -> WheelMetadata.read(two));
        assertTrue(e.getMessage().contains("more than one .dist-info directory: [y-1.dist-info, z-1.dist-info]"),
                e.getMessage());
    }

    @Test
    void notAZipIsRefusedNamingTheFile() throws Exception {
        Path bad = tmp.resolve("bad-1-py3-none-any.whl");
        Files.writeString(bad, "hello");
        IOException e = assertThrows(IOException.class, () -> WheelMetadata.read(bad));
        assertTrue(e.getMessage().startsWith("bad-1-py3-none-any.whl: "), e.getMessage());
    }
}

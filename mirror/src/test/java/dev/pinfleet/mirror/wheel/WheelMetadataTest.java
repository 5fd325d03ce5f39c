package dev.pinfleet.mirror.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.mirror.TestWheels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
        Path whl = TestWheels.wheel(tmp, "demo", "0.1", ">=3.7", Map.of("demo.py", "print(1)\n"));
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
        assertTrue(e.getMessage().contains("no <name>-<version>.dist-info/METADATA"), e.getMessage());

        Path two = TestWheels.custom(tmp, "y-1-py3-none-any.whl", "y-1.dist-info",
                TestWheels.metadata("y", "1", ""), Map.of("z-1.dist-info/METADATA", "Name: z\nVersion: 1\n"));
        e = assertThrows(IOException.class, () -> WheelMetadata.read(two));
        assertTrue(e.getMessage().contains("more than one"), e.getMessage());
    }

    @Test
    void notAZipIsRefusedNamingTheFile() throws Exception {
        Path bad = tmp.resolve("bad-1-py3-none-any.whl");
        Files.writeString(bad, "hello");
        IOException e = assertThrows(IOException.class, () -> WheelMetadata.read(bad));
        assertTrue(e.getMessage().contains("bad-1-py3-none-any.whl"), e.getMessage());
    }
}

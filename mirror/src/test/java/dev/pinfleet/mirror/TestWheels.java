package dev.pinfleet.mirror;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.wheel.RecordFile;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Builds small, valid wheels for tests. */
public final class TestWheels {
    private TestWheels() {}

    /**
     * Writes {@code dir/<escaped name>-<version>-py3-none-any.whl} holding {@code files} plus a dist-info
     * with METADATA (Name/Version as given, Requires-Python when non-empty), WHEEL and a correct RECORD.
     */
    public static Path wheel(Path dir, String name, String version, String requiresPython, Map<String, String> files)
            throws IOException {
        String escaped = Names.wheelEscape(name);
        return custom(dir, escaped + "-" + version + "-py3-none-any.whl", escaped + "-" + version + ".dist-info",
                metadata(name, version, requiresPython), files);
    }

    /** As above with explicit file name, dist-info directory and METADATA text. */
    public static Path custom(Path dir, String fileName, String distInfo, String metadata, Map<String, String> files)
            throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        files.forEach((k, v) -> entries.put(k, v.getBytes(StandardCharsets.UTF_8)));
        entries.put(distInfo + "/METADATA", metadata.getBytes(StandardCharsets.UTF_8));
        entries.put(distInfo + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                + "Tag: py3-none-any\n").getBytes(StandardCharsets.UTF_8));
        StringBuilder record = new StringBuilder();
        for (Map.Entry<String, byte[]> e : entries.entrySet()) {
            record.append(RecordFile.format(new RecordFile.Row(e.getKey(),
                    RecordFile.sha256Field(Hashing.sha256().digest(e.getValue())),
                    Integer.toString(e.getValue().length))));
        }
        record.append(distInfo).append("/RECORD,,\n");
        entries.put(distInfo + "/RECORD", record.toString().getBytes(StandardCharsets.UTF_8));
        Files.createDirectories(dir);
        Path out = dir.resolve(fileName);
        try (OutputStream os = Files.newOutputStream(out); ZipOutputStream zip = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return out;
    }

    /** METADATA text with Name, Version and (when non-empty) Requires-Python. */
    public static String metadata(String name, String version, String requiresPython) {
        return "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n"
                + (requiresPython.isEmpty() ? "" : "Requires-Python: " + requiresPython + "\n")
                + "Summary: a test distribution\n\nLong description.\n";
    }
}

package dev.pinfleet.mirror.pack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.Python;
import dev.pinfleet.mirror.publish.WheelValidator;
import dev.pinfleet.wheel.RecordFile;
import dev.pinfleet.wheel.WheelMetadata;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WheelPackerTest {
    @TempDir
    Path tmp;

    private static final String DI = "Demo_Pkg-1.0.dist-info";

    /** A site-packages with one installed distribution whose RECORD lists every kind of entry. */
    private Path site(boolean withWheelFile) throws IOException {
        Path site = tmp.resolve("site");
        Files.createDirectories(site.resolve("demo/__pycache__"));
        Files.createDirectories(site.resolve(DI));
        Files.writeString(site.resolve("demo/__init__.py"), "VALUE = 42\n");
        Files.writeString(site.resolve("demo/__pycache__/__init__.cpython-311.pyc"), "bytecode");
        Files.writeString(site.resolve("demo/run.sh"), "#!/bin/sh\necho hi\n");
        Files.setPosixFilePermissions(site.resolve("demo/run.sh"), PosixFilePermissions.fromString("rwxr-x---"));
        Files.writeString(site.resolve("demo/odd,name.txt"), "comma in the name\n");
        Files.writeString(site.resolve(DI + "/METADATA"), "Metadata-Version: 2.1\nName: Demo.Pkg\nVersion: 1.0\n"
                + "Requires-Python: >=3.8\n\nbody\n");
        if (withWheelFile) {
            Files.writeString(site.resolve(DI + "/WHEEL"), "Wheel-Version: 1.0\nGenerator: bdist_wheel\n"
                    + "Root-Is-Purelib: true\nTag: py2-none-any\nTag: py3-none-any\n");
        }
        Files.writeString(site.resolve(DI + "/INSTALLER"), "pip\n");
        Files.writeString(site.resolve(DI + "/REQUESTED"), "");
        Files.writeString(site.resolve(DI + "/direct_url.json"), "{}");
        Files.writeString(site.resolve(DI + "/LICENSE"), "MIT\n");
        Files.writeString(site.resolve(DI + "/RECORD"), String.join("\n",
                "demo/__init__.py,sha256=old,11",
                "demo/__pycache__/__init__.cpython-311.pyc,,",
                "demo/run.sh,sha256=old,19",
                "\"demo/odd,name.txt\",sha256=old,18",
                "demo/missing.py,sha256=old,1",
                "../../../bin/demo,sha256=old,10",
                "/usr/bin/demo-abs,sha256=old,10",
                DI + "/METADATA,,",
                DI + "/WHEEL,,",
                DI + "/INSTALLER,,",
                DI + "/REQUESTED,,",
                DI + "/direct_url.json,,",
                DI + "/LICENSE,,",
                DI + "/RECORD,,", ""));
        return site;
    }

    @Test
    void packsRecordListedFilesIntoAValidWheelWithAFreshRecord() throws Exception {
        Path site = site(true);
        List<InstalledDist> dists = WheelPacker.scan(site);
        assertEquals(List.of(new InstalledDist("Demo.Pkg", "1.0", site.resolve(DI).toAbsolutePath())), dists);

        Path whl = WheelPacker.pack(site, dists.get(0), tmp.resolve("out"));

        assertEquals("demo_pkg-1.0-py2.py3-none-any.whl", whl.getFileName().toString());
        try (ZipFile zip = new ZipFile(whl.toFile())) {
            List<String> names = Collections.list(zip.entries()).stream().map(ZipEntry::getName).toList();
            assertEquals(List.of("demo/__init__.py", "demo/odd,name.txt", "demo/run.sh", DI + "/LICENSE",
                    DI + "/METADATA", DI + "/WHEEL", DI + "/RECORD"), names);
            List<RecordFile.Row> rows = RecordFile.parse(read(zip, DI + "/RECORD"));
            assertEquals(names, rows.stream().map(RecordFile.Row::path).toList());
            for (RecordFile.Row row : rows) {
                if (row.path().endsWith("/RECORD")) {
                    assertEquals(new RecordFile.Row(DI + "/RECORD", "", ""), row);
                    continue;
                }
                byte[] data = zip.getInputStream(zip.getEntry(row.path())).readAllBytes();
                assertTrue(RecordFile.hashMatches(row.hash(), data), row.toString());
                assertEquals(Integer.toString(data.length), row.size());
            }
            assertTrue(read(zip, DI + "/WHEEL").contains("Tag: py2-none-any"));
        }
        assertEquals("Demo.Pkg", WheelValidator.validate(whl, whl.getFileName().toString()).name());
    }

    @Test
    void packingIsDeterministicAcrossRunsAndSourceTimestamps() throws Exception {
        Path site = site(true);
        InstalledDist d = WheelPacker.scan(site).get(0);
        Path first = WheelPacker.pack(site, d, tmp.resolve("one"));
        Files.setLastModifiedTime(site.resolve("demo/__init__.py"), FileTime.fromMillis(12345));
        Path second = WheelPacker.pack(site, d, tmp.resolve("two"));
        assertEquals(Hashing.sha256Hex(first), Hashing.sha256Hex(second));
        Path again = WheelPacker.pack(site, d, tmp.resolve("one"));
        assertEquals(Hashing.sha256Hex(first), Hashing.sha256Hex(again));
    }

    @Test
    void executableBitsArePreservedInTheExternalAttributes() throws Exception {
        Path site = site(true);
        Path whl = WheelPacker.pack(site, WheelPacker.scan(site).get(0), tmp.resolve("out"));
        try (FileSystem zfs = FileSystems.newFileSystem(URI.create("jar:" + whl.toUri()),
                Map.of("enablePosixFileAttributes", "true"))) {
            Set<PosixFilePermission> exec = Files.getPosixFilePermissions(zfs.getPath("demo/run.sh"));
            Set<PosixFilePermission> plain = Files.getPosixFilePermissions(zfs.getPath("demo/__init__.py"));
            assertEquals(PosixFilePermissions.fromString("rwxr-xr-x"), exec);
            assertEquals(PosixFilePermissions.fromString("rw-r--r--"), plain);
        }
    }

    @Test
    void missingWheelFileDefaultsToPy3NoneAnyAndIsWritten() throws Exception {
        Path site = site(false);
        Path whl = WheelPacker.pack(site, WheelPacker.scan(site).get(0), tmp.resolve("out"));
        assertEquals("demo_pkg-1.0-py3-none-any.whl", whl.getFileName().toString());
        try (ZipFile zip = new ZipFile(whl.toFile())) {
            String wheel = read(zip, DI + "/WHEEL");
            assertTrue(wheel.contains("Tag: py3-none-any\n"), wheel);
            assertTrue(read(zip, DI + "/RECORD").contains(DI + "/WHEEL,sha256="));
        }
        assertEquals("1.0", WheelValidator.validate(whl, whl.getFileName().toString()).version());
    }

    @Test
    void tagLinesAreCompressedPerComponent() throws Exception {
        Path wheel = tmp.resolve("WHEEL");
        Files.writeString(wheel, "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\n"
                + "Tag: cp311-cp311-manylinux2014_x86_64\n");
        assertEquals("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", WheelPacker.tags(wheel));
        Files.writeString(wheel, "Tag: py2-none-any\nTag: py3-none-any\n");
        assertEquals("py2.py3-none-any", WheelPacker.tags(wheel));
        Files.writeString(wheel, "Wheel-Version: 1.0\n");
        assertEquals("py3-none-any", WheelPacker.tags(wheel));
        assertEquals("py3-none-any", WheelPacker.tags(tmp.resolve("absent")));
    }

    /**
     * The migration path for real: every distribution of the machine's Python packed in parallel on two
     * threads, and every wheel passes the publisher's validation (how fast is the benchmark's business).
     */
    @Test
    void packsTheMachinesSitePackagesIntoValidWheels() throws Exception {
        assumeTrue(Python.available(), "python3 is not installed");
        Path site = Python.purelib();
        List<InstalledDist> dists = WheelPacker.scan(site);
        assumeTrue(dists.size() >= 5, "too few installed distributions to be meaningful");

        List<Path> wheels = WheelPacker.packAll(site, dists, tmp.resolve("corpus"), 2);

        assertEquals(dists.size(), wheels.size());
        List<String> failures = new ArrayList<>();
        for (Path w : wheels) {
            try {
                WheelMetadata m = WheelValidator.validate(w, w.getFileName().toString());
                assertFalse(m.name().isEmpty());
            } catch (Exception e) {
                failures.add(e.getMessage());
            }
        }
        assertEquals(List.of(), failures);
    }

    private static String read(ZipFile zip, String name) throws IOException {
        return new String(zip.getInputStream(zip.getEntry(name)).readAllBytes(), StandardCharsets.UTF_8);
    }
}

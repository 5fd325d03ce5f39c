package dev.pinfleet.controller.freeze;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.wheel.RecordFile;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** A mirror directory filled with small real wheels (valid RECORD, METADATA with Requires-Dist/Python). */
final class MirrorFixture {
    private final Path dir;
    private final Path work;

    MirrorFixture(Path dir, Path work) {
        this.dir = dir;
        this.work = work;
    }

    Path dir() {
        return dir;
    }

    /** A wheel to be published. */
    final class Wheel {
        private final String name;
        private final String version;
        private String tag = "py3-none-any";
        private String requiresPython = "";
        private final List<String> requires = new ArrayList<>();

        Wheel(String name, String version) {
            this.name = name;
            this.version = version;
        }

        Wheel tag(String t) {
            tag = t;
            return this;
        }

        Wheel requiresPython(String spec) {
            requiresPython = spec;
            return this;
        }

        Wheel requires(String... reqs) {
            requires.addAll(List.of(reqs));
            return this;
        }

        /** Builds the wheel and publishes it; returns the published file. */
        Path publish() throws Exception {
            return publishAll(List.of(this)).get(0);
        }

        Path build(Path out) throws IOException {
            String escaped = Names.wheelEscape(name);
            String distInfo = escaped + "-" + version + ".dist-info";
            StringBuilder meta = new StringBuilder("Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n");
            if (!requiresPython.isEmpty()) {
                meta.append("Requires-Python: ").append(requiresPython).append('\n');
            }
            for (String r : requires) {
                meta.append("Requires-Dist: ").append(r).append('\n');
            }
            Map<String, byte[]> entries = new LinkedHashMap<>();
            entries.put(escaped + "/__init__.py", ("VERSION = '" + version + "'\n").getBytes(StandardCharsets.UTF_8));
            entries.put(distInfo + "/METADATA", meta.append("\nA test distribution.\n").toString()
                    .getBytes(StandardCharsets.UTF_8));
            entries.put(distInfo + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: " + tag
                    + "\n").getBytes(StandardCharsets.UTF_8));
            StringBuilder record = new StringBuilder();
            entries.forEach((k, v) -> record.append(RecordFile.format(new RecordFile.Row(k,
                    RecordFile.sha256Field(Hashing.sha256().digest(v)), Integer.toString(v.length)))));
            record.append(distInfo).append("/RECORD,,\n");
            entries.put(distInfo + "/RECORD", record.toString().getBytes(StandardCharsets.UTF_8));
            Files.createDirectories(out);
            Path file = out.resolve(escaped + "-" + version + "-" + tag + ".whl");
            try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
                for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                    zip.putNextEntry(new ZipEntry(e.getKey()));
                    zip.write(e.getValue());
                    zip.closeEntry();
                }
            }
            return file;
        }
    }

    /** Builds and publishes several wheels at once (one index rebuild); returns the published files. */
    List<Path> publishAll(List<Wheel> wheels) throws Exception {
        Path out = work.resolve("wheels-" + System.nanoTime());
        List<Path> built = new ArrayList<>();
        for (Wheel w : wheels) {
            built.add(w.build(out));
        }
        new Publisher().publishAll(dir, built, "fixture", "");
        List<Path> published = new ArrayList<>();
        for (int i = 0; i < wheels.size(); i++) {
            published.add(dir.resolve("packages").resolve(Names.normalizeProject(wheels.get(i).name))
                    .resolve(built.get(i).getFileName()));
        }
        return published;
    }

    Wheel wheel(String name, String version) {
        return new Wheel(name, version);
    }

    /** A file that is not a wheel, written straight into packages/ (as an sdist would be). */
    void raw(String project, String file, String content) throws IOException {
        Path p = dir.resolve("packages").resolve(project).resolve(file);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }
}

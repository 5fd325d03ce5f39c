package dev.pinfleet.wheel.testing;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Small but valid wheels for tests, written byte by byte ({@link ZipBuilder}) so tests control what
 * {@code java.util.zip} cannot: unix modes, symbolic-link entries, duplicate or hostile names, declared sizes,
 * RECORD rows, entry points. {@code new WheelBuilder("alpha", "1.0").file(...).build(dir)}.
 */
public final class WheelBuilder {
    private final String name;
    private final String version;
    private String tag = "py3-none-any";
    private boolean purelib = true;
    private String metadataName;
    private String metadataVersion;
    private final List<String> requires = new ArrayList<>();
    private String requiresPython = "";
    private final Map<String, String> consoleScripts = new LinkedHashMap<>();
    private final Map<String, String> guiScripts = new LinkedHashMap<>();
    private final List<ZipBuilder.Item> files = new ArrayList<>();
    private final List<ZipBuilder.Item> raw = new ArrayList<>();
    private final List<ZipBuilder.Packed> packed = new ArrayList<>();
    private final List<String> packedRecord = new ArrayList<>();
    private String filename;
    private final Map<String, byte[]> tampered = new LinkedHashMap<>();
    private final Map<String, Integer> declaredSizes = new LinkedHashMap<>();

    public WheelBuilder(String name, String version) {
        this.name = name;
        this.version = version;
    }

    /** The compressed tag set, e.g. "cp311-cp311-manylinux_2_17_x86_64". */
    public WheelBuilder tag(String tag) {
        this.tag = tag;
        return this;
    }

    /** Root-Is-Purelib (true by default). */
    public WheelBuilder purelib(boolean purelib) {
        this.purelib = purelib;
        return this;
    }

    /** Overrides the Name written to METADATA. */
    public WheelBuilder metadataName(String n) {
        this.metadataName = n;
        return this;
    }

    /** Overrides the Version written to METADATA. */
    public WheelBuilder metadataVersion(String v) {
        this.metadataVersion = v;
        return this;
    }

    /** Overrides the file name. */
    public WheelBuilder filename(String f) {
        this.filename = f;
        return this;
    }

    /** Sets the Requires-Python header (none by default). */
    public WheelBuilder requiresPython(String specifier) {
        this.requiresPython = specifier;
        return this;
    }

    /** Adds a Requires-Dist line. */
    public WheelBuilder requires(String requirement) {
        requires.add(requirement);
        return this;
    }

    /** Adds a console_scripts entry point, e.g. ("alpha-hello", "alpha.cli:main"). */
    public WheelBuilder consoleScript(String script, String target) {
        consoleScripts.put(script, target);
        return this;
    }

    /** Adds a gui_scripts entry point. */
    public WheelBuilder guiScript(String script, String target) {
        guiScripts.put(script, target);
        return this;
    }

    /** Adds a regular file (mode 0644), listed in RECORD. */
    public WheelBuilder file(String path, String content) {
        return file(path, content.getBytes(StandardCharsets.UTF_8), 0100644);
    }

    /** Adds a regular file with a unix mode (e.g. 0100755), listed in RECORD. */
    public WheelBuilder file(String path, byte[] content, int mode) {
        files.add(new ZipBuilder.Item(path, content, mode, true));
        return this;
    }

    /** Adds an entry as is (hostile names, symlinks…), not listed in RECORD. */
    public WheelBuilder rawEntry(String path, byte[] content, int mode) {
        raw.add(new ZipBuilder.Item(path, content, mode, true));
        return this;
    }

    /** Adds a prepared entry (e.g. {@link ZipBuilder#twoGibOfZeros}), listed in RECORD with {@code hashField}. */
    public WheelBuilder packed(ZipBuilder.Packed entry, String hashField) {
        return packed(entry, hashField, Long.toString(entry.size()));
    }

    /** As {@link #packed(ZipBuilder.Packed, String)}, with {@code sizeField} as RECORD's size column. */
    public WheelBuilder packed(ZipBuilder.Packed entry, String hashField, String sizeField) {
        packed.add(entry);
        packedRecord.add(entry.name() + "," + hashField + "," + sizeField + "\n");
        return this;
    }

    /** Replaces a file's bytes after RECORD was computed, so its RECORD hash no longer matches. */
    public WheelBuilder tamper(String path, String content) {
        tampered.put(path, content.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** Declares another uncompressed size for an entry in the zip headers. */
    public WheelBuilder declareSize(String path, int size) {
        declaredSizes.put(path, size);
        return this;
    }

    /** The wheel's file name. */
    public String filename() {
        return filename != null ? filename : Names.wheelEscape(name) + "-" + version + "-" + tag + ".whl";
    }

    /** Writes the wheel into {@code dir} and returns its path. */
    public Path build(Path dir) throws IOException {
        String distInfo = Names.wheelEscape(name) + "-" + version + ".dist-info";
        StringBuilder meta = new StringBuilder("Metadata-Version: 2.1\nName: ")
                .append(metadataName != null ? metadataName : name).append("\nVersion: ")
                .append(metadataVersion != null ? metadataVersion : version).append('\n');
        if (!requiresPython.isEmpty()) {
            meta.append("Requires-Python: ").append(requiresPython).append('\n');
        }
        for (String r : requires) {
            meta.append("Requires-Dist: ").append(r).append('\n');
        }
        meta.append("\nA test distribution.\n");
        StringBuilder wheelFile = new StringBuilder("Wheel-Version: 1.0\nGenerator: pinfleet-tests\nRoot-Is-Purelib: ")
                .append(purelib).append('\n');
        for (String t : expandTags(tag)) {
            wheelFile.append("Tag: ").append(t).append('\n');
        }
        List<ZipBuilder.Item> all = new ArrayList<>(files);
        all.add(new ZipBuilder.Item(distInfo + "/METADATA", meta.toString().getBytes(StandardCharsets.UTF_8), 0100644, true));
        all.add(new ZipBuilder.Item(distInfo + "/WHEEL", wheelFile.toString().getBytes(StandardCharsets.UTF_8), 0100644, true));
        if (!consoleScripts.isEmpty() || !guiScripts.isEmpty()) {
            StringBuilder ep = new StringBuilder();
            if (!consoleScripts.isEmpty()) {
                ep.append("[console_scripts]\n");
                consoleScripts.forEach((k, v) -> ep.append(k).append(" = ").append(v).append('\n'));
            }
            if (!guiScripts.isEmpty()) {
                ep.append("[gui_scripts]\n");
                guiScripts.forEach((k, v) -> ep.append(k).append(" = ").append(v).append('\n'));
            }
            all.add(new ZipBuilder.Item(distInfo + "/entry_points.txt", ep.toString().getBytes(StandardCharsets.UTF_8),
                    0100644, true));
        }
        String record = recordRows(all, declaredSizes) + String.join("", packedRecord) + distInfo + "/RECORD,,\n";
        all.add(new ZipBuilder.Item(distInfo + "/RECORD", record.getBytes(StandardCharsets.UTF_8), 0100644, true));
        all.addAll(raw);
        all.replaceAll(it -> tampered.containsKey(it.name())
                ? new ZipBuilder.Item(it.name(), tampered.get(it.name()), it.mode(), it.deflate()) : it);
        List<ZipBuilder.Packed> entries = new ArrayList<>();
        for (ZipBuilder.Item it : all) {
            entries.add(ZipBuilder.pack(it, declaredSizes.getOrDefault(it.name(), it.content().length)));
        }
        entries.addAll(packed);
        Path out = dir.resolve(filename());
        Files.write(out, ZipBuilder.zipPacked(entries));
        return out;
    }

    /** Fresh RECORD bytes for the given entries (RECORD itself listed without hash). */
    public static byte[] record(String distInfo, List<ZipBuilder.Item> items) {
        return (recordRows(items, Map.of()) + distInfo + "/RECORD,,\n").getBytes(StandardCharsets.UTF_8);
    }

    /** RECORD rows for {@code items}: the hash of the content, the size as declared (the content's by default). */
    private static String recordRows(List<ZipBuilder.Item> items, Map<String, Integer> declaredSizes) {
        StringBuilder rec = new StringBuilder();
        for (ZipBuilder.Item it : items) {
            rec.append(csv(it.name())).append(",sha256=").append(b64(Hashing.sha256().digest(it.content()))).append(',')
                    .append(declaredSizes.getOrDefault(it.name(), it.content().length)).append('\n');
        }
        return rec.toString();
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    private static String b64(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private static List<String> expandTags(String tag) {
        String[] t = tag.split("-");
        List<String> out = new ArrayList<>();
        for (String py : t[0].split("\\.")) {
            for (String abi : t[1].split("\\.")) {
                for (String plat : t[2].split("\\.")) {
                    out.add(py + "-" + abi + "-" + plat);
                }
            }
        }
        return out;
    }
}

package dev.pinfleet.agent.testing;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * Small but valid wheels (and zips, tarballs) for tests, written byte by byte so tests control what
 * {@code java.util.zip} cannot: unix modes in the external attributes, symlink entries, duplicate or
 * hostile names, declared sizes. Also packs a distribution installed in a real site-packages back into
 * a wheel ({@link #packInstalled}).
 */
public final class TestWheels {
    private TestWheels() {}

    /** Starts a wheel for distribution {@code name} at {@code version} (py3-none-any, purelib). */
    public static Wheel wheel(String name, String version) {
        return new Wheel(name, version);
    }

    /** The manifest entry for a file: sha256 and size computed, path = filename. */
    public static Artifact artifact(Path file, ArtifactKind kind, String name, String version, String installPath)
            throws IOException {
        String filename = file.getFileName().toString();
        return Artifact.newBuilder().setName(name).setVersion(version).setFilename(filename).setPath(filename)
                .setSha256(Hashing.sha256Hex(file)).setSize(Files.size(file)).setKind(kind)
                .setInstallPath(installPath).build();
    }

    /** A WHEEL artifact for a wheel file, name and version taken from its file name. */
    public static Artifact wheelArtifact(Path wheel) throws IOException {
        String[] parts = wheel.getFileName().toString().split("-");
        return artifact(wheel, ArtifactKind.WHEEL, parts[0], parts[1], "");
    }

    /** A wheel under construction. */
    public static final class Wheel {
        private final String name;
        private final String version;
        private String tag = "py3-none-any";
        private boolean purelib = true;
        private String metadataName;
        private String metadataVersion;
        private final List<String> requires = new ArrayList<>();
        private final Map<String, String> consoleScripts = new LinkedHashMap<>();
        private final Map<String, String> guiScripts = new LinkedHashMap<>();
        private final List<ZipBuilder.Item> files = new ArrayList<>();
        private final List<ZipBuilder.Item> raw = new ArrayList<>();
        private String filename;
        private final Map<String, byte[]> tampered = new LinkedHashMap<>();
        private final Map<String, Integer> declaredSizes = new LinkedHashMap<>();

        private Wheel(String name, String version) {
            this.name = name;
            this.version = version;
        }

        /** The compressed tag set, e.g. "cp311-cp311-manylinux_2_17_x86_64". */
        public Wheel tag(String tag) {
            this.tag = tag;
            return this;
        }

        /** Root-Is-Purelib (true by default). */
        public Wheel purelib(boolean purelib) {
            this.purelib = purelib;
            return this;
        }

        /** Overrides the Name written to METADATA. */
        public Wheel metadataName(String n) {
            this.metadataName = n;
            return this;
        }

        /** Overrides the Version written to METADATA. */
        public Wheel metadataVersion(String v) {
            this.metadataVersion = v;
            return this;
        }

        /** Overrides the file name. */
        public Wheel filename(String f) {
            this.filename = f;
            return this;
        }

        /** Adds a Requires-Dist line. */
        public Wheel requires(String requirement) {
            requires.add(requirement);
            return this;
        }

        /** Adds a console_scripts entry point, e.g. ("alpha-hello", "alpha.cli:main"). */
        public Wheel consoleScript(String script, String target) {
            consoleScripts.put(script, target);
            return this;
        }

        /** Adds a gui_scripts entry point. */
        public Wheel guiScript(String script, String target) {
            guiScripts.put(script, target);
            return this;
        }

        /** Adds a regular file (mode 0644), listed in RECORD. */
        public Wheel file(String path, String content) {
            return file(path, content.getBytes(StandardCharsets.UTF_8), 0100644);
        }

        /** Adds a regular file with a unix mode (e.g. 0100755), listed in RECORD. */
        public Wheel file(String path, byte[] content, int mode) {
            files.add(new ZipBuilder.Item(path, content, mode, true));
            return this;
        }

        /** Adds an entry as is (hostile names, symlinks…), not listed in RECORD. */
        public Wheel rawEntry(String path, byte[] content, int mode) {
            raw.add(new ZipBuilder.Item(path, content, mode, true));
            return this;
        }

        /** Replaces a file's bytes after RECORD was computed, so its RECORD hash no longer matches. */
        public Wheel tamper(String path, String content) {
            tampered.put(path, content.getBytes(StandardCharsets.UTF_8));
            return this;
        }

        /** Declares another uncompressed size for an entry in the zip headers. */
        public Wheel declareSize(String path, int size) {
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
            all.add(new ZipBuilder.Item(distInfo + "/RECORD", record(distInfo, all), 0100644, true));
            all.addAll(raw);
            all.replaceAll(it -> tampered.containsKey(it.name())
                    ? new ZipBuilder.Item(it.name(), tampered.get(it.name()), it.mode(), it.deflate()) : it);
            Path out = dir.resolve(filename());
            Files.write(out, ZipBuilder.zip(all, declaredSizes));
            return out;
        }
    }

    /** Fresh RECORD bytes for the given entries (RECORD itself listed without hash). */
    public static byte[] record(String distInfo, List<ZipBuilder.Item> items) {
        StringBuilder rec = new StringBuilder();
        for (ZipBuilder.Item it : items) {
            rec.append(csv(it.name())).append(",sha256=").append(b64(Hashing.sha256().digest(it.content()))).append(',')
                    .append(it.content().length).append('\n');
        }
        rec.append(distInfo).append("/RECORD,,\n");
        return rec.toString().getBytes(StandardCharsets.UTF_8);
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

    /**
     * Packs a distribution installed in the interpreter's site-packages back into a wheel in {@code outDir}:
     * every file its RECORD lists inside site-packages (not generated launchers in bin/, not bytecode, not
     * INSTALLER/REQUESTED/direct_url.json), plus a fresh RECORD. The tag comes from the dist-info's WHEEL.
     */
    public static Path packInstalled(String python, String distribution, Path outDir) throws IOException {
        String distInfoPath = run(List.of(python, "-c",
                "import importlib.metadata as m, sys; print(m.distribution(sys.argv[1])._path)", distribution)).strip();
        Path distInfo = Path.of(distInfoPath);
        Path site = distInfo.getParent();
        String distInfoName = distInfo.getFileName().toString();
        List<ZipBuilder.Item> items = new ArrayList<>();
        for (String line : Files.readAllLines(distInfo.resolve("RECORD"), StandardCharsets.UTF_8)) {
            String path = line.startsWith("\"") ? line.substring(1, line.indexOf('"', 1)) : line.split(",")[0];
            if (path.isEmpty() || path.startsWith("..") || path.startsWith("/") || path.contains("__pycache__")
                    || path.endsWith(".pyc") || path.equals(distInfoName + "/RECORD")
                    || path.equals(distInfoName + "/INSTALLER") || path.equals(distInfoName + "/REQUESTED")
                    || path.equals(distInfoName + "/direct_url.json")) {
                continue;
            }
            Path f = site.resolve(path);
            int mode = Files.isExecutable(f) ? 0100755 : 0100644;
            items.add(new ZipBuilder.Item(path, Files.readAllBytes(f), mode, true));
        }
        String tag = "py3-none-any";
        for (String line : Files.readAllLines(distInfo.resolve("WHEEL"), StandardCharsets.UTF_8)) {
            if (line.startsWith("Tag:")) {
                tag = line.substring(4).strip();
                break;
            }
        }
        items.add(new ZipBuilder.Item(distInfoName + "/RECORD", record(distInfoName, items), 0100644, true));
        String stem = distInfoName.substring(0, distInfoName.length() - ".dist-info".length());
        Path out = outDir.resolve(stem + "-" + tag + ".whl");
        Files.write(out, ZipBuilder.zip(items));
        return out;
    }

    /** Writes a .tar.gz of ustar entries; names longer than 100 bytes get a GNU long-name entry first. */
    public static Path tarGz(Path out, List<TarItem> items) throws IOException {
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        for (TarItem it : items) {
            byte[] name = it.name().getBytes(StandardCharsets.UTF_8);
            if (name.length > 100) {
                byte[] longName = java.util.Arrays.copyOf(name, name.length + 1);
                writeTarEntry(tar, new TarItem("././@LongLink", 'L', 0644, longName, ""));
            }
            writeTarEntry(tar, it);
        }
        tar.write(new byte[1024]);
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(out))) {
            tar.writeTo(o);
        }
        return out;
    }

    private static void writeTarEntry(ByteArrayOutputStream tar, TarItem it) throws IOException {
        byte[] h = new byte[512];
        put(h, 0, it.name(), 100);
        put(h, 100, String.format("%07o", it.mode()), 8);
        put(h, 108, "0000000", 8);
        put(h, 116, "0000000", 8);
        put(h, 124, String.format("%011o", it.content().length), 12);
        put(h, 136, "00000000000", 12);
        h[156] = (byte) it.type();
        put(h, 157, it.linkTarget(), 100);
        put(h, 257, "ustar", 6);
        put(h, 263, "00", 2);
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        put(h, 148, String.format("%06o", sum), 7);
        tar.write(h);
        tar.write(it.content());
        tar.write(new byte[(512 - it.content().length % 512) % 512]);
    }

    /** One tar entry: type '0' file, '5' directory, '2' symlink, '1' hard link. */
    public record TarItem(String name, char type, int mode, byte[] content, String linkTarget) {
        public static TarItem file(String name, String content) {
            return new TarItem(name, '0', 0644, content.getBytes(StandardCharsets.UTF_8), "");
        }

        public static TarItem dir(String name) {
            return new TarItem(name, '5', 0755, new byte[0], "");
        }

        public static TarItem symlink(String name, String target) {
            return new TarItem(name, '2', 0777, new byte[0], target);
        }
    }

    private static void put(byte[] h, int off, String s, int len) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, off, Math.min(b.length, len));
    }

    /** Runs a short process and returns its stdout; fails on a non-zero exit or after 60 s. */
    public static String run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + cmd);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        if (p.exitValue() != 0) {
            throw new IOException(cmd + " exited " + p.exitValue() + ": " + out);
        }
        return out;
    }

    /** A minimal zip writer that sets unix modes in the external attributes (made by unix, version 3.0). */
    public static final class ZipBuilder {
        private ZipBuilder() {}

        /**
         * One entry.
         *
         * @param mode the full unix mode, e.g. 0100644 for a file, 0120777 for a symlink, 040755 for a directory
         */
        public record Item(String name, byte[] content, int mode, boolean deflate) {}

        /** The zip bytes of the entries in order (duplicates allowed: tests need them). */
        public static byte[] zip(List<Item> items) throws IOException {
            return zip(items, Map.of());
        }

        /** As {@link #zip(List)}, but declaring other uncompressed sizes for the named entries (zip bomb tests). */
        public static byte[] zip(List<Item> items, Map<String, Integer> declaredSizes) throws IOException {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream cen = new ByteArrayOutputStream();
            for (Item it : items) {
                byte[] name = it.name().getBytes(StandardCharsets.UTF_8);
                CRC32 crc = new CRC32();
                crc.update(it.content());
                byte[] data = it.deflate() ? deflate(it.content()) : it.content();
                int method = it.deflate() ? 8 : 0;
                int size = declaredSizes.getOrDefault(it.name(), it.content().length);
                long offset = out.size();
                ByteBuffer loc = le(30);
                loc.putInt(0x04034b50).putShort((short) 20).putShort((short) 0x0800).putShort((short) method)
                        .putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue()).putInt(data.length)
                        .putInt(size).putShort((short) name.length).putShort((short) 0);
                out.write(loc.array());
                out.write(name);
                out.write(data);
                ByteBuffer c = le(46);
                c.putInt(0x02014b50).putShort((short) (3 << 8 | 30)).putShort((short) 20).putShort((short) 0x0800)
                        .putShort((short) method).putShort((short) 0).putShort((short) 0x21).putInt((int) crc.getValue())
                        .putInt(data.length).putInt(size).putShort((short) name.length)
                        .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                        .putInt(it.mode() << 16).putInt((int) offset);
                cen.write(c.array());
                cen.write(name);
            }
            long cenOffset = out.size();
            cen.writeTo(out);
            ByteBuffer end = le(22);
            end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) items.size())
                    .putShort((short) items.size()).putInt(cen.size()).putInt((int) cenOffset).putShort((short) 0);
            out.write(end.array());
            return out.toByteArray();
        }

        /**
         * A zip of only a central directory whose deflated entries declare {@code size} unpacked and
         * {@code compressedSize} packed bytes that no data backs (size-cap tests: it can only be refused on open).
         */
        public static byte[] declaredOnly(List<String> names, long size, long compressedSize) {
            ByteArrayOutputStream cen = new ByteArrayOutputStream();
            for (String n : names) {
                byte[] name = n.getBytes(StandardCharsets.UTF_8);
                ByteBuffer c = le(46);
                c.putInt(0x02014b50).putShort((short) (3 << 8 | 30)).putShort((short) 20).putShort((short) 0x0800)
                        .putShort((short) 8).putShort((short) 0).putShort((short) 0x21).putInt(0)
                        .putInt((int) compressedSize).putInt((int) size).putShort((short) name.length)
                        .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                        .putInt(0100644 << 16).putInt(0);
                cen.writeBytes(c.array());
                cen.writeBytes(name);
            }
            ByteBuffer end = le(22);
            end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) names.size())
                    .putShort((short) names.size()).putInt(cen.size()).putInt(0).putShort((short) 0);
            cen.writeBytes(end.array());
            return cen.toByteArray();
        }

        private static ByteBuffer le(int n) {
            return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        }

        private static byte[] deflate(byte[] in) {
            Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
            d.setInput(in);
            d.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            while (!d.finished()) {
                out.write(buf, 0, d.deflate(buf));
            }
            d.end();
            return out.toByteArray();
        }
    }
}

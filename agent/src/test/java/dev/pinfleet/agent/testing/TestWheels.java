package dev.pinfleet.agent.testing;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.wheel.testing.WheelBuilder;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;

/**
 * Wheels, tarballs and manifest artifacts for the agent's tests: wheels come from the shared
 * {@link WheelBuilder} (proto's test jar, also used by the mirror's tests); this class adds tarballs,
 * artifacts, and packing a distribution installed in a real site-packages back into a wheel
 * ({@link #packInstalled}).
 */
public final class TestWheels {
    private TestWheels() {}

    /** Starts a wheel for distribution {@code name} at {@code version} (py3-none-any, purelib). */
    public static WheelBuilder wheel(String name, String version) {
        return new WheelBuilder(name, version);
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
        items.add(new ZipBuilder.Item(distInfoName + "/RECORD", WheelBuilder.record(distInfoName, items), 0100644, true));
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
}

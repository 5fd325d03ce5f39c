package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.wheel.WheelArchive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the cache knows about one unpacked wheel, stored as {@code index} next to its {@code files/}
 * tree so that a release is planned from one small read instead of a directory walk.
 *
 * @param dir the cache entry, {@code cacheRoot/wheels/<ab>/<sha256>}
 * @param distInfo the wheel's {@code <name>-<version>.dist-info} directory
 * @param name the METADATA Name
 * @param version the METADATA Version
 * @param purelib the WHEEL file's Root-Is-Purelib
 * @param files every regular file except RECORD and INSTALLER, in archive order
 */
record WheelIndex(Path dir, String distInfo, String name, String version, boolean purelib, List<FileEntry> files) {

    /** Format marker on the first line; an entry with another marker is unpacked again. */
    static final String FORMAT = "pinfleet-wheel-index 1";

    /**
     * One file.
     *
     * @param path the path inside the wheel
     * @param hash RECORD hash of its content ("sha256=…")
     * @param executable whether any execute bit is set
     * @param pythonScript a {@code .data/scripts} file whose first line starts with {@code #!python}
     */
    record FileEntry(String path, long size, String hash, boolean executable, boolean pythonScript) {}

    /** The {@code <name>-<version>.data} directory name of this wheel. */
    String dataDir() {
        return WheelArchive.dataDir(distInfo);
    }

    /** Where a wheel path's bytes are in the cache. */
    Path file(String wheelPath) {
        return dir.resolve("files").resolve(wheelPath);
    }

    void write(Path indexFile) throws IOException {
        StringBuilder b = new StringBuilder(64 + files.size() * 120);
        b.append(FORMAT).append('\n');
        b.append("name\t").append(name).append('\n');
        b.append("version\t").append(version).append('\n');
        b.append("dist-info\t").append(distInfo).append('\n');
        b.append("purelib\t").append(purelib).append('\n');
        for (FileEntry f : files) {
            b.append('F').append('\t').append(f.pythonScript() ? 'p' : f.executable() ? 'x' : '-').append('\t')
                    .append(f.size()).append('\t').append(f.hash()).append('\t').append(f.path()).append('\n');
        }
        AppReadable.write(indexFile, b.toString().getBytes(StandardCharsets.UTF_8), false);
    }

    /** Reads an index; null when it is absent or of another format. */
    static WheelIndex read(Path dir) throws IOException {
        Path indexFile = dir.resolve("index");
        List<String> lines;
        try {
            lines = Files.readAllLines(indexFile, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            return null;
        }
        if (lines.size() < 5 || !lines.get(0).equals(FORMAT)) {
            return null;
        }
        String name = value(lines.get(1), "name");
        String version = value(lines.get(2), "version");
        String distInfo = value(lines.get(3), "dist-info");
        boolean purelib = Boolean.parseBoolean(value(lines.get(4), "purelib"));
        List<FileEntry> files = new ArrayList<>(lines.size() - 5);
        for (int i = 5; i < lines.size(); i++) {
            String[] f = lines.get(i).split("\t", 5);
            if (f.length != 5 || !f[0].equals("F")) {
                throw new IOException("cache index " + indexFile + " line " + (i + 1) + " is malformed");
            }
            files.add(new FileEntry(f[4], Long.parseLong(f[2]), f[3], !f[1].equals("-"), f[1].equals("p")));
        }
        return new WheelIndex(dir, distInfo, name, version, purelib, List.copyOf(files));
    }

    private static String value(String line, String key) throws IOException {
        if (!line.startsWith(key + "\t")) {
            throw new IOException("cache index line '" + line + "' should start with " + key);
        }
        return line.substring(key.length() + 1);
    }
}

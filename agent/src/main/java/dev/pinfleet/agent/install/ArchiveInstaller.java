package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * ARCHIVE and FILE artifacts: a {@code .tar.gz}/{@code .tgz}/{@code .zip} extracted to, or a file copied
 * to, the artifact's {@code install_path} inside the release. Entry names get the same checks as wheel
 * entries; hard links, devices and FIFOs are refused; symbolic links (tar only; a zip's are refused by
 * {@link ZipArchive}) must be relative, stay inside {@code install_path} and not pass through another link;
 * they are created only after every file was written, so no write ever follows one. The archive bomb guard
 * ({@link Limits}) applies to the declared sizes before anything is written and, for tar, to every byte read
 * from the decompressed stream.
 */
final class ArchiveInstaller {
    private ArchiveInstaller() {}

    /** Installs an ARCHIVE or FILE artifact from {@code file} into {@code staging}. */
    static void install(Artifact a, Path file, Path staging) throws IOException, InstallException {
        String label = a.getFilename();
        String why = ZipArchive.checkName(a.getInstallPath());
        if (why != null) {
            throw InstallException.of(label, "install_path '" + Names.printable(a.getInstallPath()) + "': " + why);
        }
        Path dest = staging.resolve(a.getInstallPath());
        if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
            throw InstallException.conflict(label, "install_path '" + a.getInstallPath() + "' already exists in the release");
        }
        Files.createDirectories(dest.getParent());
        if (a.getKind() == ArtifactKind.FILE) {
            Files.copy(file, dest);
        } else if (a.getFilename().endsWith(".zip")) {
            Files.createDirectory(dest);
            extractZip(file, label, dest);
        } else {
            Files.createDirectory(dest);
            extractTar(file, label, dest);
        }
    }

    private static void extractZip(Path file, String label, Path root) throws IOException, InstallException {
        try (ZipArchive zip = ZipArchive.open(file, label); ZipArchive.Scratch scratch = new ZipArchive.Scratch()) {
            Set<String> dirs = new HashSet<>();
            for (ZipArchive.Entry e : zip.entries()) {
                if (e.directory()) {
                    makeDirs(root, e.name(), dirs);
                    continue;
                }
                makeParent(root, e.name(), dirs);
                Path dest = root.resolve(e.name());
                try (OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    zip.extract(e, out::write, scratch);
                }
                if (e.executable()) {
                    Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rwxr-xr-x"));
                }
            }
        }
    }

    private static void extractTar(Path file, String label, Path root) throws IOException, InstallException {
        long packed = Files.size(file);
        long total = 0;
        int count = 0;
        Set<String> dirs = new HashSet<>();
        Set<String> seen = new HashSet<>();
        Set<String> files = new HashSet<>();
        Map<String, String> links = new LinkedHashMap<>();
        try (InputStream in = new GZIPInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16), 1 << 16)) {
            TarReader tar = new TarReader(in, label, packed);
            for (TarReader.Entry e = tar.next(); e != null; e = tar.next()) {
                if (++count > Limits.MAX_ENTRIES) {
                    throw InstallException.of(label, "more than " + Limits.MAX_ENTRIES + " entries");
                }
                String name = normalize(e.name());
                if (name.isEmpty()) {
                    continue;
                }
                String why = ZipArchive.checkName(name);
                if (why != null) {
                    throw InstallException.entry(label, e.name(), why);
                }
                if (!seen.add(name)) {
                    throw InstallException.entry(label, e.name(), "appears twice in the archive (duplicate entry)");
                }
                for (String link : links.keySet()) {
                    if (name.startsWith(link + "/")) {
                        throw InstallException.entry(label, e.name(), "lies below the symbolic link '" + link + "'");
                    }
                }
                for (int s = name.lastIndexOf('/'); s > 0; s = name.lastIndexOf('/', s - 1)) {
                    if (files.contains(name.substring(0, s))) {
                        throw InstallException.entry(label, e.name(), "lies below '" + name.substring(0, s)
                                + "', which is a file");
                    }
                }
                switch (e.type()) {
                    case '5' -> makeDirs(root, name, dirs);
                    case '2' -> links.put(name, e.linkTarget());
                    case '1' -> throw InstallException.entry(label, e.name(), "hard link entries are not allowed");
                    default -> {
                        if (!e.isFile()) {
                            throw InstallException.entry(label, e.name(), "entry type '" + e.type()
                                    + "' (device, FIFO or unknown) is not allowed");
                        }
                        total += e.size();
                        if (total > Limits.MAX_UNPACKED_BYTES) {
                            throw InstallException.entry(label, e.name(), "declares " + e.size()
                                    + " bytes, which brings the archive to " + total + " unpacked bytes, more than the"
                                    + " limit of " + Limits.MAX_UNPACKED_BYTES + " (archive bomb guard)");
                        }
                        String ratio = Limits.checkRatio(total, packed);
                        if (ratio != null) {
                            throw InstallException.entry(label, e.name(), ratio + " (archive bomb guard)");
                        }
                        if (dirs.contains(name)) {
                            throw InstallException.entry(label, e.name(), "is a file, but earlier entries lie below it");
                        }
                        makeParent(root, name, dirs);
                        Path dest = root.resolve(name);
                        files.add(name);
                        try (OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW,
                                StandardOpenOption.WRITE)) {
                            tar.copyTo(out);
                        }
                        if ((e.mode() & 0111) != 0) {
                            Files.setPosixFilePermissions(dest, PosixFilePermissions.fromString("rwxr-xr-x"));
                        }
                    }
                }
            }
        }
        for (Map.Entry<String, String> link : links.entrySet()) {
            String why = checkLink(link.getKey(), link.getValue(), links.keySet());
            if (why != null) {
                throw InstallException.entry(label, link.getKey(), "symbolic link to '" + Names.printable(link.getValue())
                        + "' refused: " + why);
            }
            if (dirs.contains(link.getKey())) {
                throw InstallException.entry(label, link.getKey(), "is both a directory and a symbolic link");
            }
            makeParent(root, link.getKey(), dirs);
            Files.createSymbolicLink(root.resolve(link.getKey()), Path.of(link.getValue()));
        }
    }

    /**
     * Null when a symlink at {@code name} pointing to {@code target} resolves, component by component,
     * inside the archive root without passing through another symlink of the archive.
     */
    static String checkLink(String name, String target, Set<String> links) {
        if (target.isEmpty() || target.startsWith("/")) {
            return "target is empty or absolute";
        }
        if (target.indexOf('\0') >= 0 || target.indexOf('\\') >= 0) {
            return "target contains a NUL or backslash";
        }
        Deque<String> path = new ArrayDeque<>();
        String[] parts = name.split("/");
        for (int i = 0; i < parts.length - 1; i++) {
            path.addLast(parts[i]);
        }
        for (String part : target.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (path.isEmpty()) {
                    return "target leaves the install_path";
                }
                path.removeLast();
                continue;
            }
            path.addLast(part);
            if (links.contains(String.join("/", path))) {
                return "target passes through another symbolic link";
            }
        }
        return null;
    }

    /** Strips leading "./" components and a trailing '/'. */
    private static String normalize(String name) {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        if (n.equals(".")) {
            return "";
        }
        while (n.endsWith("/")) {
            n = n.substring(0, n.length() - 1);
        }
        return n;
    }

    private static void makeParent(Path root, String name, Set<String> dirs) throws IOException {
        int slash = name.lastIndexOf('/');
        if (slash > 0) {
            makeDirs(root, name.substring(0, slash), dirs);
        }
    }

    private static void makeDirs(Path root, String dir, Set<String> dirs) throws IOException {
        if (dirs.contains(dir)) {
            return;
        }
        makeParent(root, dir, dirs);
        Path p = root.resolve(dir);
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectory(p);
        }
        dirs.add(dir);
    }
}

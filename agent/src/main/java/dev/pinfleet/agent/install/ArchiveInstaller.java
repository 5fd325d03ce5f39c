package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.archive.ArchiveLimits;
import dev.pinfleet.archive.EntryNames;
import dev.pinfleet.archive.ZipArchive;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.wheel.PathOwners;
import dev.pinfleet.wheel.RecordFile;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/**
 * ARCHIVE and FILE artifacts: a {@code .tar.gz}/{@code .tgz}/{@code .zip} extracted to, or a file copied
 * to, the artifact's {@code install_path} inside the release. Entry names get the same checks as wheel
 * entries; hard links, devices and FIFOs are refused; symbolic links (tar only; a zip's are refused by
 * {@link ZipArchive}) must be relative, stay inside {@code install_path} and not pass through another link;
 * they are created only after every file was written, so no write ever follows one. The archive bomb guard
 * ({@link ArchiveLimits}) applies to the declared sizes before anything is written and, for tar, to every byte read
 * from the decompressed stream ({@link TarWalk}).
 */
final class ArchiveInstaller {
    private ArchiveInstaller() {}

    /** Where the checked entries of an archive go, names relative to its install_path, parents first. */
    interface Visitor {
        /** A directory, each once: named by an entry or implied by one below it. */
        void directory(String name) throws IOException;

        /** A regular file; {@code content} writes its bytes to a sink, once, during this call. */
        void file(String name, boolean executable, Content content) throws IOException, InstallException;

        /** A symbolic link, after every file and directory, its target checked. */
        void symlink(String name, String target) throws IOException;
    }

    /** The bytes of one file entry. */
    interface Content {
        void writeTo(ZipArchive.Sink out) throws IOException, InstallException;
    }

    /**
     * Installs an ARCHIVE or FILE artifact from {@code file} into {@code staging}. An archive's install_path may
     * already be a directory (another artifact's files lie in it: {@link PathOwnership} allowed that).
     *
     * @param notOwned release paths of this artifact that another one writes (identical bytes): left out here
     */
    static void install(Artifact a, Path file, Path staging, Set<String> notOwned) throws IOException, InstallException {
        String label = checkInstallPath(a);
        Path dest = staging.resolve(a.getInstallPath());
        if (a.getKind() == ArtifactKind.FILE && notOwned.contains(a.getInstallPath())) {
            return;
        }
        boolean isDir = Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS);
        if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS) && !(isDir && a.getKind() == ArtifactKind.ARCHIVE)) {
            throw InstallException.conflict(label, "install_path '" + a.getInstallPath() + "' already exists in the release");
        }
        AppReadable.createDirectories(dest.getParent());
        if (a.getKind() == ArtifactKind.FILE) {
            AppReadable.copy(file, dest, false);
            return;
        }
        if (!isDir) {
            AppReadable.createDirectory(dest);
        }
        walk(a, file, new Extract(dest, a.getInstallPath() + "/", notOwned));
    }

    /**
     * What an ARCHIVE or FILE artifact would write, release-relative, read from {@code file} with every check of
     * {@link #install} and nothing written: each file with the hash of its bytes, each directory (the install_path's
     * parents included).
     */
    static PathOwnership.Claims claims(Artifact a, Path file) throws IOException, InstallException {
        checkInstallPath(a);
        String path = a.getInstallPath();
        Map<String, PathOwners.Identity> files = new HashMap<>();
        Set<String> dirs = new HashSet<>(PathOwners.parents(path));
        if (a.getKind() == ArtifactKind.FILE) {
            String hash = RecordFile.sha256Field(HexFormat.of().parseHex(a.getSha256()));
            files.put(path, new PathOwners.Identity("file", hash, false));
            return new PathOwnership.Claims(files, dirs);
        }
        dirs.add(path);
        String prefix = path + "/";
        walk(a, file, new Visitor() {
            @Override
            public void directory(String name) {
                dirs.add(prefix + name);
            }

            @Override
            public void file(String name, boolean executable, Content content) throws IOException, InstallException {
                MessageDigest md = Hashing.sha256();
                content.writeTo(md::update);
                files.put(prefix + name, new PathOwners.Identity("file", RecordFile.sha256Field(md.digest()),
                        executable));
            }

            @Override
            public void symlink(String name, String target) {
                files.put(prefix + name, new PathOwners.Identity("symlink", target, false));
            }
        });
        return new PathOwnership.Claims(files, dirs);
    }

    /** Returns the artifact's label once its install_path is a safe relative path. */
    private static String checkInstallPath(Artifact a) throws InstallException {
        String why = EntryNames.check(a.getInstallPath());
        if (why != null) {
            throw InstallException.of(a.getFilename(), "install_path '" + Names.printable(a.getInstallPath()) + "': "
                    + why);
        }
        return a.getFilename();
    }

    /** Reads an ARCHIVE artifact entry by entry, every entry checked, into {@code v}. */
    static void walk(Artifact a, Path file, Visitor v) throws IOException, InstallException {
        if (a.getFilename().endsWith(".zip")) {
            walkZip(file, a.getFilename(), v);
        } else {
            TarWalk.walk(file, a.getFilename(), v);
        }
    }

    private static void walkZip(Path file, String label, Visitor v) throws IOException, InstallException {
        try (ZipArchive zip = ZipArchive.open(file, label); ZipArchive.Scratch scratch = new ZipArchive.Scratch()) {
            Set<String> dirs = new HashSet<>();
            for (ZipArchive.Entry e : zip.entries()) {
                if (e.directory()) {
                    directories(e.name(), dirs, v);
                } else {
                    parents(e.name(), dirs, v);
                    v.file(e.name(), e.executable(), out -> {
                        try {
                            zip.extract(e, out, scratch);
                        } catch (ArchiveException refused) {
                            throw InstallException.from(refused);
                        }
                    });
                }
            }
        } catch (ArchiveException e) {
            throw InstallException.from(e);
        }
    }

    /** Tells {@code v} of {@code dir} and its parents not told yet ({@code told}), parents first. */
    static void directories(String dir, Set<String> told, Visitor v) throws IOException {
        if (told.contains(dir)) {
            return;
        }
        parents(dir, told, v);
        v.directory(dir);
        told.add(dir);
    }

    /** {@link #directories} for the parent of {@code name}, if it has one. */
    static void parents(String name, Set<String> told, Visitor v) throws IOException {
        int slash = name.lastIndexOf('/');
        if (slash > 0) {
            directories(name.substring(0, slash), told, v);
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

    /** Writes an archive's entries below its install_path, except those another artifact writes. */
    private static final class Extract implements Visitor {
        private final Path root;
        private final String prefix;
        private final Set<String> notOwned;

        Extract(Path root, String prefix, Set<String> notOwned) {
            this.root = root;
            this.prefix = prefix;
            this.notOwned = notOwned;
        }

        @Override
        public void directory(String name) throws IOException {
            Path p = root.resolve(name);
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                AppReadable.createDirectory(p);
            }
        }

        @Override
        public void file(String name, boolean executable, Content content) throws IOException, InstallException {
            if (notOwned.contains(prefix + name)) {
                return;
            }
            try (OutputStream out = Channels.newOutputStream(AppReadable.create(root.resolve(name), executable))) {
                content.writeTo(out::write);
            }
        }

        @Override
        public void symlink(String name, String target) throws IOException {
            if (!notOwned.contains(prefix + name)) {
                Files.createSymbolicLink(root.resolve(name), Path.of(target));
            }
        }
    }
}

package dev.pinfleet.agent.fs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the layout of an agent root before the agent writes anything into it: at start (before the store, cache
 * and recovery touch it) and before each deploy acts. The agent writes and deletes under its root with its own
 * privileges, so a symbolic link planted at one of its directories would redirect those writes and deletions
 * elsewhere, and a world-writable directory would let any local user plant one (or files under a sha256 name).
 *
 * <p>Checked: the root itself (which may be a link the operator configured: its target is checked); then, none
 * following links, {@code store/}, {@code store/sha256/}, its two-hex prefix
 * directories and the entries in them, {@code store/tmp/}; {@code cache/}, {@code cache/wheels/}, its prefix
 * directories and the entries in them; {@code trash/}; {@code apps/}, each {@code apps/APP/}, its
 * {@code releases/} and the release directories in it, its {@code state.json}. Each must be what the agent made
 * (a directory, or a regular file for store entries and state) and no directory may be writable by others. The
 * only link allowed is {@code apps/APP/current}, which must point at {@code releases/ID} of its own app.
 */
public final class RootGuard {
    private RootGuard() {}

    /** Thrown when the root holds something the agent must not write through or next to. */
    public static final class UnsafeRootException extends IOException {
        private static final long serialVersionUID = 1L;
        private final String detail;

        UnsafeRootException(String node, String detail) {
            super("node " + node + ": " + detail);
            this.detail = detail;
        }

        /** What is unsafe, without the node's name. */
        public String detail() {
            return detail;
        }
    }

    /**
     * Checks every path listed in the class comment.
     *
     * @param node this node's name, for the message
     * @throws UnsafeRootException naming the first offending path, what it is and what to do
     */
    public static void check(String node, Path root) throws IOException {
        List<String> problems = problems(root);
        if (!problems.isEmpty()) {
            throw new UnsafeRootException(node, "agent root " + root + " is unsafe, refusing to write"
                    + " into it: " + String.join("; ", problems));
        }
    }

    /** What {@link #check} would refuse, one entry per offending path; empty when the root is safe. */
    public static List<String> problems(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        rootItself(root, out);
        Path store = root.resolve("store");
        if (dir(store, out)) {
            Path sha = store.resolve("sha256");
            if (dir(sha, out)) {
                for (Path prefix : children(sha)) {
                    if (dir(prefix, out)) {
                        for (Path entry : children(prefix)) {
                            file(entry, out);
                        }
                    }
                }
            }
            dir(store.resolve("tmp"), out);
        }
        Path cache = root.resolve("cache");
        if (dir(cache, out)) {
            Path wheels = cache.resolve("wheels");
            if (dir(wheels, out)) {
                for (Path prefix : children(wheels)) {
                    if (dir(prefix, out)) {
                        for (Path entry : children(prefix)) {
                            dir(entry, out);
                        }
                    }
                }
            }
        }
        dir(root.resolve("trash"), out);
        Path apps = root.resolve("apps");
        if (dir(apps, out)) {
            for (Path app : children(apps)) {
                if (dir(app, out)) {
                    app(app, out);
                }
            }
        }
        return out;
    }

    /** The root may itself be a link the operator configured (e.g. to a data disk); what it resolves to is checked. */
    private static void rootItself(Path root, List<String> out) throws IOException {
        PosixFileAttributes a;
        try {
            a = Files.readAttributes(root, PosixFileAttributes.class);
        } catch (NoSuchFileException e) {
            return;
        } catch (UnsupportedOperationException e) {
            return;
        }
        if (!a.isDirectory()) {
            out.add(root + " is not a directory");
        } else if (a.permissions().contains(PosixFilePermission.OTHERS_WRITE)) {
            out.add(root + " is world-writable (mode " + PosixFilePermissions.toString(a.permissions())
                    + "; any local user could plant files or links in it: chmod o-w)");
        }
    }

    private static void app(Path app, List<String> out) throws IOException {
        Path releases = app.resolve("releases");
        if (dir(releases, out)) {
            for (Path release : children(releases)) {
                dir(release, out);
            }
        }
        file(app.resolve("state.json"), out);
        Path current = app.resolve("current");
        BasicFileAttributes a = attributes(current);
        if (a == null) {
            return;
        }
        if (!a.isSymbolicLink()) {
            out.add(current + " is not a symbolic link (the agent swaps `current` as a link)");
            return;
        }
        Path target = Files.readSymbolicLink(current);
        Path resolved = app.resolve(target).normalize();
        if (target.isAbsolute() || !releases.equals(resolved.getParent())) {
            out.add(current + " points at " + target + ", outside " + releases
                    + " (the agent only links `current` to releases/ID)");
        }
    }

    /** True when {@code p} is a safe directory (absent counts as safe, nothing to descend into: false). */
    private static boolean dir(Path p, List<String> out) throws IOException {
        BasicFileAttributes a = attributes(p);
        if (a == null) {
            return false;
        }
        if (a.isSymbolicLink()) {
            out.add(p + " is a symbolic link to " + Files.readSymbolicLink(p)
                    + " (the agent follows no link inside its root; remove it)");
            return false;
        }
        if (!a.isDirectory()) {
            out.add(p + " is not a directory");
            return false;
        }
        if (a instanceof PosixFileAttributes px && px.permissions().contains(PosixFilePermission.OTHERS_WRITE)) {
            out.add(p + " is world-writable (mode " + PosixFilePermissions.toString(px.permissions())
                    + "; any local user could plant files or links in it: chmod o-w)");
            return false;
        }
        return true;
    }

    private static void file(Path p, List<String> out) throws IOException {
        BasicFileAttributes a = attributes(p);
        if (a == null) {
            return;
        }
        if (a.isSymbolicLink()) {
            out.add(p + " is a symbolic link to " + Files.readSymbolicLink(p)
                    + " (the agent follows no link inside its root; remove it)");
        } else if (!a.isRegularFile()) {
            out.add(p + " is not a regular file");
        }
    }

    private static BasicFileAttributes attributes(Path p) throws IOException {
        try {
            try {
                return Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            } catch (UnsupportedOperationException e) {
                return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            }
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static List<Path> children(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(out::add);
        } catch (NoSuchFileException e) {
            return out;
        }
        out.sort(null);
        return out;
    }

    /**
     * Creates and removes an empty file in {@code dir} or, when it does not exist yet, in its nearest existing
     * parent (nothing is created for good): proves the directory takes writes. A read-only mount, a full inode
     * table or missing permissions fail here, before anything else is changed.
     *
     * @throws FileSystemException naming the directory and the system's reason
     */
    public static void probeWritable(Path dir) throws IOException {
        Path at = dir;
        while (at.getParent() != null && !Files.isDirectory(at, LinkOption.NOFOLLOW_LINKS)) {
            at = at.getParent();
        }
        Path probe = at.resolve(".probe." + java.util.UUID.randomUUID() + ".tmp");
        try {
            Files.newByteChannel(probe, java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE).close();
        } catch (FileSystemException e) {
            String why = e.getReason() != null ? e.getReason()
                    : e instanceof java.nio.file.AccessDeniedException ? "Permission denied" : e.getClass().getSimpleName();
            throw new FileSystemException(at.toString(), null, why);
        }
        Files.delete(probe);
    }
}

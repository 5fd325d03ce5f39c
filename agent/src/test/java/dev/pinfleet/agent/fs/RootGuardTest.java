package dev.pinfleet.agent.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.fs.Durable;
import dev.pinfleet.testing.Descriptors;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link RootGuard} on real directories: a complete, safe agent root passes; every place a planted link, a wrong
 * kind of file or a world-writable directory can sit is reported, exactly once and by its path, and nothing under
 * a refused directory is looked into (its contents are not the agent's any more).
 */
class RootGuardTest {
    private static final String SHA = "ab" + "0".repeat(62);
    /** Every directory of a root the guard looks at (relative to the root). */
    private static final List<String> DIRECTORIES = List.of("store", "store/sha256", "store/sha256/ab", "store/tmp",
            "cache", "cache/wheels", "cache/wheels/ab", "cache/wheels/ab/" + SHA, "trash", "apps", "apps/shop",
            "apps/shop/releases", "apps/shop/releases/r2");

    @TempDir
    Path dir;

    /** A root as the agent leaves it after a deploy: store, tmp, wheel cache, trash, one app with `current`. */
    private Path safeRoot() throws IOException {
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.createDirectories(root.resolve("store/sha256/ab"));
        Files.writeString(root.resolve("store/sha256/ab/" + SHA), "wheel");
        Files.createDirectories(root.resolve("store/tmp"));
        Files.createDirectories(root.resolve("cache/wheels/ab/" + SHA));
        Files.createDirectories(root.resolve("trash"));
        Files.createDirectories(root.resolve("apps/shop/releases/r1"));
        Files.createDirectories(root.resolve("apps/shop/releases/r2"));
        Files.writeString(root.resolve("apps/shop/state.json"), "{}");
        Files.createSymbolicLink(root.resolve("apps/shop/current"), Path.of("releases/r1"));
        return root;
    }

    /** A safe root of its own under {@code name}. */
    private Path freshRoot(String name) throws IOException {
        Path root = dir.resolve(name);
        Files.move(safeRoot(), root);
        return root;
    }

    /** Exactly one problem, naming {@code path} (relative to the root) and saying {@code what}. */
    private void assertOneProblem(List<String> problems, Path root, String path, String what) {
        assertEquals(1, problems.size(), "one problem expected: " + problems);
        assertTrue(problems.get(0).startsWith(root.resolve(path) + " " + what), problems.get(0));
    }

    @Test
    void aCompleteSafeRootHasNoProblemAndPassesTheCheck() throws IOException {
        Path root = safeRoot();
        assertEquals(List.of(), RootGuard.problems(root));
        RootGuard.check("web1", root);
    }

    @Test
    void anEmptyOrMissingRootIsSafe() throws IOException {
        assertEquals(List.of(), RootGuard.problems(dir.resolve("not-there")));
        assertEquals(List.of(), RootGuard.problems(Files.createDirectories(dir.resolve("empty"))));
    }

    @Test
    void theRootMayBeALinkTheOperatorConfiguredItsTargetIsChecked() throws IOException {
        Path root = safeRoot();
        Path link = Files.createSymbolicLink(dir.resolve("link"), root);
        assertEquals(List.of(), RootGuard.problems(link));

        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxrwx"));
        List<String> p = RootGuard.problems(link);
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.get(0).startsWith(link + " is world-writable (mode rwxrwxrwx;"), p.get(0));
    }

    @Test
    void aRootThatIsAFileIsRefused() throws IOException {
        // refused by the file system's own error when the guard looks beneath it, naming the path
        Path file = Files.writeString(dir.resolve("file"), "x");
        IOException e = assertThrows(IOException.class, () -> RootGuard.check("web1", file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    void aLinkPlantedAtAnyDirectoryOfTheRootIsReportedAndNotFollowed() throws IOException {
        for (String at : DIRECTORIES) {
            Path elsewhere = Files.createTempDirectory(dir, "elsewhere");
            // what the link leads to is unsafe too: it must not be looked into
            Files.createSymbolicLink(elsewhere.resolve("planted"), Path.of("/etc"));
            Path root = freshRoot("l-" + at.replace('/', '-'));
            Path p = root.resolve(at);
            Durable.deleteTree(p);
            Files.createSymbolicLink(p, elsewhere);
            List<String> problems = RootGuard.problems(root);
            assertEquals(List.of(p + " is a symbolic link to " + elsewhere
                    + " (the agent follows no link inside its root; remove it)"), problems, at);
            assertThrows(RootGuard.UnsafeRootException.class, () -> RootGuard.check("web1", root), at);
        }
    }

    @Test
    void aWorldWritableDirectoryIsReportedAndNotLookedInto() throws IOException {
        for (String at : DIRECTORIES) {
            Path root = freshRoot("w-" + at.replace('/', '-'));
            Path p = root.resolve(at);
            // something unsafe inside, which must not be reported: the directory itself is refused
            Files.createSymbolicLink(p.resolve("planted"), Path.of("/etc"));
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xrwx"));
            List<String> problems = RootGuard.problems(root);
            assertEquals(List.of(p + " is world-writable (mode rwxr-xrwx; any local user could plant files or links"
                    + " in it: chmod o-w)"), problems, at);
        }
    }

    @Test
    void aGroupWritableDirectoryIsNotRefused() throws IOException {
        Path root = safeRoot();
        Files.setPosixFilePermissions(root.resolve("store"), PosixFilePermissions.fromString("rwxrwxr-x"));
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxrwxr-x"));
        assertEquals(List.of(), RootGuard.problems(root));
    }

    @Test
    void aFileWhereADirectoryBelongsIsReported() throws IOException {
        for (String at : DIRECTORIES) {
            Path root = freshRoot("f-" + at.replace('/', '-'));
            Path p = root.resolve(at);
            Durable.deleteTree(p);
            Files.writeString(p, "not a directory");
            assertEquals(List.of(p + " is not a directory"), RootGuard.problems(root), at);
        }
    }

    @Test
    void storeEntriesAndStateMustBeRegularFiles() throws IOException {
        Path root = freshRoot("first");
        Path entry = root.resolve("store/sha256/ab/" + SHA);
        Files.delete(entry);
        Files.createDirectories(entry);
        assertOneProblem(RootGuard.problems(root), root, "store/sha256/ab/" + SHA, "is not a regular file");

        root = freshRoot("second");
        Path state = root.resolve("apps/shop/state.json");
        Files.delete(state);
        Files.createSymbolicLink(state, Path.of("/etc/passwd"));
        assertEquals(List.of(state + " is a symbolic link to /etc/passwd"
                + " (the agent follows no link inside its root; remove it)"), RootGuard.problems(root));

        root = freshRoot("third");
        Path linked = root.resolve("store/sha256/ab/" + SHA);
        Files.delete(linked);
        Files.createSymbolicLink(linked, Path.of("/etc/shadow"));
        assertOneProblem(RootGuard.problems(root), root, "store/sha256/ab/" + SHA, "is a symbolic link to /etc/shadow");

        root = freshRoot("fourth");
        Files.delete(root.resolve("apps/shop/state.json"));
        Files.createDirectories(root.resolve("apps/shop/state.json"));
        assertOneProblem(RootGuard.problems(root), root, "apps/shop/state.json", "is not a regular file");
    }

    @Test
    void currentMustBeALinkToAReleaseOfItsOwnApp() throws IOException {
        Path root = safeRoot();
        Path current = root.resolve("apps/shop/current");
        Path releases = root.resolve("apps/shop/releases");
        Files.delete(current);
        Files.createSymbolicLink(current, Path.of("releases/never-built"));
        assertEquals(List.of(), RootGuard.problems(root), "a link to a release not built (yet) is not a planted one");
        for (Path target : List.of(releases.resolve("r1"), Path.of("../other/releases/r1"), Path.of("releases"),
                Path.of("releases/r1/lib"), Path.of("/etc"), Path.of("releases/../../other/releases/r1"))) {
            Files.delete(current);
            Files.createSymbolicLink(current, target);
            assertEquals(List.of(current + " points at " + target + ", outside " + releases
                    + " (the agent only links `current` to releases/ID)"), RootGuard.problems(root), target.toString());
        }
        Files.delete(current);
        Files.createDirectories(current);
        assertEquals(List.of(current + " is not a symbolic link (the agent swaps `current` as a link)"),
                RootGuard.problems(root));
        Files.delete(current);
        assertEquals(List.of(), RootGuard.problems(root), "an app with no current release yet");
    }

    @Test
    void everyProblemIsListedAndTheCheckNamesNodeAndRoot() throws IOException {
        Path root = safeRoot();
        Files.setPosixFilePermissions(root.resolve("trash"), PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.delete(root.resolve("apps/shop/current"));
        Files.createSymbolicLink(root.resolve("apps/shop/current"), Path.of("/"));
        assertEquals(2, RootGuard.problems(root).size(), RootGuard.problems(root).toString());
        RootGuard.UnsafeRootException e = assertThrows(RootGuard.UnsafeRootException.class,
                () -> RootGuard.check("web7", root));
        String detail = "agent root " + root + " is unsafe, refusing to write into it: "
                + String.join("; ", RootGuard.problems(root));
        assertEquals(detail, e.detail());
        assertEquals("node web7: " + detail, e.getMessage());
    }

    @Test
    void probeWritableLeavesNothingBehindAndProbesTheNearestExistingParent() throws IOException {
        Path d = Files.createDirectories(dir.resolve("probe"));
        RootGuard.probeWritable(d);
        RootGuard.probeWritable(d.resolve("not/yet/there"));
        try (var s = Files.list(d)) {
            assertFalse(s.findAny().isPresent(), "the probe left something in " + d);
        }
        assertFalse(Files.exists(d.resolve("not")), "probing creates no directory");
        // the agent probes at every start and deploy: a probe file deleted while still open would hold a descriptor
        // (and the deleted file's inode) until a garbage collection happened to close it
        assertEquals(0, Descriptors.openIn(d), "a descriptor is left open on the deleted probe in " + d);
    }

    @Test
    void aDirectoryThatRefusesWritesIsNamedWithTheSystemsReason() {
        // sysfs takes no new files, not even from root: EACCES ("Permission denied", which the JDK reports without
        // a reason of its own) or EROFS where it is mounted read-only
        FileSystemException e = assertThrows(FileSystemException.class,
                () -> RootGuard.probeWritable(Path.of("/sys/pinfleet-probe/not/there")));
        assertEquals("/sys", e.getFile());
        assertTrue(Set.of("Permission denied", "Read-only file system").contains(e.getReason()), e.getMessage());
    }

    @Test
    void problemsAreListedInPathOrderWhateverOrderTheDirectoryGivesThem() throws IOException {
        Path root = safeRoot();
        List<String> names = List.of("r9", "r3", "r7", "r1a", "r5", "r0", "r8", "r2a", "r6", "r4");
        for (String n : names) {
            Files.setPosixFilePermissions(Files.createDirectories(root.resolve("apps/shop/releases/" + n)),
                    PosixFilePermissions.fromString("rwxrwxrwx"));
        }
        List<String> problems = RootGuard.problems(root);
        assertEquals(names.size(), problems.size(), problems.toString());
        List<String> sorted = new java.util.ArrayList<>(problems);
        java.util.Collections.sort(sorted);
        assertEquals(sorted, problems);
    }
}

package dev.pinfleet.agent.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * "Nothing half-written": the checks every threat test makes on an agent root after a refused, aborted or
 * interrupted deploy (run it once the agent has finished or restarted, since start-up recovery is part of the deal).
 *
 * <ul>
 *   <li>every file under {@code store/sha256/ab/} is named by the SHA-256 of its bytes (64 hex, first two = the
 *       directory): no unverified bytes under a sha256 name;</li>
 *   <li>{@code store/tmp/} (partial downloads) and {@code cache/wheels/.tmp/} (interrupted unpacks) are empty;</li>
 *   <li>no {@code apps/APP/releases/.staging-*} (half-built release) and no {@code apps/APP/.*.tmp} (a state file or
 *       `current` link that was being replaced);</li>
 *   <li>{@code apps/APP/current}, when present, is a symbolic link to a complete release directory.</li>
 * </ul>
 *
 * <pre>{@code
 * String before = CleanRoot.current(root, "shop");
 * ... the attack ...
 * assertEquals(before, CleanRoot.current(root, "shop"));
 * CleanRoot.assertNothingHalfWritten(root);
 * }</pre>
 */
public final class CleanRoot {
    private CleanRoot() {}

    /** The release id `ROOT/apps/APP/current` points at, or null when there is none. */
    public static String current(Path root, String app) throws IOException {
        Path link = root.resolve("apps").resolve(app).resolve("current");
        return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : null;
    }

    /** Throws an {@link AssertionError} listing every problem {@link #problems} finds under {@code root}. */
    public static void assertNothingHalfWritten(Path root) {
        List<String> problems;
        try {
            problems = problems(root);
        } catch (IOException e) {
            throw new AssertionError("cannot inspect agent root " + root + ": " + e.getMessage(), e);
        }
        if (!problems.isEmpty()) {
            throw new AssertionError("agent root " + root + " is not clean:\n  " + String.join("\n  ", problems));
        }
    }

    /** What is half-written or unverified under the agent root {@code root}, one line each; empty when clean. */
    public static List<String> problems(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        checkStore(root.resolve("store"), out);
        mustBeEmpty(root.resolve("store/tmp"), "partial download", out);
        mustBeEmpty(root.resolve("cache/wheels/.tmp"), "interrupted unpack", out);
        Path apps = root.resolve("apps");
        if (Files.isDirectory(apps, LinkOption.NOFOLLOW_LINKS)) {
            for (Path app : list(apps)) {
                checkApp(app, out);
            }
        }
        return out;
    }

    private static void checkStore(Path store, List<String> out) throws IOException {
        Path entries = store.resolve("sha256");
        if (!Files.isDirectory(entries, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        for (Path prefix : list(entries)) {
            String ab = prefix.getFileName().toString();
            if (!Files.isDirectory(prefix, LinkOption.NOFOLLOW_LINKS) || !ab.matches("[0-9a-f]{2}")) {
                out.add(prefix + ": not a two-hex-digit directory of the store");
                continue;
            }
            for (Path f : list(prefix)) {
                String name = f.getFileName().toString();
                if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(f + ": not a regular file in the store");
                } else if (!name.matches("[0-9a-f]{64}") || !name.startsWith(ab)) {
                    out.add(f + ": not named by a sha256 under its prefix directory");
                } else {
                    String actual = sha256(f);
                    if (!actual.equals(name)) {
                        out.add(f + ": unverified bytes under a sha256 name (content is sha256 " + actual + ")");
                    }
                }
            }
        }
    }

    private static void checkApp(Path app, List<String> out) throws IOException {
        for (Path p : list(app)) {
            String name = p.getFileName().toString();
            if (name.startsWith(".") && name.endsWith(".tmp")) {
                out.add(p + ": temporary file left by an interrupted replace");
            }
        }
        Path releases = app.resolve("releases");
        if (Files.isDirectory(releases, LinkOption.NOFOLLOW_LINKS)) {
            for (Path p : list(releases)) {
                if (p.getFileName().toString().startsWith(".staging-")) {
                    out.add(p + ": half-built release");
                }
            }
        }
        Path current = app.resolve("current");
        if (Files.exists(current, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isSymbolicLink(current)) {
                out.add(current + ": not a symbolic link");
            } else {
                Path target = app.resolve(Files.readSymbolicLink(current)).normalize();
                if (!target.getParent().equals(releases) || !Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(current + ": points at " + target + ", not at a release directory under " + releases);
                }
            }
        }
    }

    private static void mustBeEmpty(Path dir, String what, List<String> out) throws IOException {
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            for (Path p : list(dir)) {
                out.add(p + ": " + what + " left behind");
            }
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(out::add);
        }
        out.sort(null);
        return out;
    }

    private static String sha256(Path f) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}

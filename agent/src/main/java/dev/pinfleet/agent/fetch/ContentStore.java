package dev.pinfleet.agent.fetch;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.manifest.Hashing;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The agent's content-addressed artifact store, {@code ROOT/store}: verified artifacts live at
 * {@code sha256/ab/abcdef…} (named by the SHA-256 of their bytes, shared by all apps and releases), downloads
 * in progress in {@code tmp/}. Only bytes whose digest and size were checked are ever moved under a sha256
 * name, so an entry that is present with the right size is trusted without re-hashing.
 *
 * <p>{@link #prune} must not run while a fetch into the same store is in progress.
 */
public final class ContentStore {
    private final Path root;
    private final Path entries;
    private final Path tmp;
    /** Entries committed since this store was opened; see {@link #commits}. */
    private final AtomicLong commits = new AtomicLong();

    /** Opens (creating when needed) the store at {@code root}, with its {@code sha256/} and {@code tmp/} directories. */
    public ContentStore(Path root) throws IOException {
        this.root = Objects.requireNonNull(root, "root");
        this.entries = root.resolve("sha256");
        this.tmp = root.resolve("tmp");
        AppReadable.createDirectories(entries);
        AppReadable.createDirectories(tmp);
    }

    /** The store's root directory. */
    public Path root() {
        return root;
    }

    /**
     * Where the artifact with this digest lives (or would live): {@code root/sha256/<ab>/<sha256>}.
     *
     * @throws IllegalArgumentException when {@code sha256} is not 64 lowercase hex characters
     */
    public Path path(String sha256) {
        if (!Hashing.isSha256Hex(sha256)) {
            throw new IllegalArgumentException("not a sha256 (64 lowercase hex characters): '" + sha256 + "'");
        }
        return entries.resolve(sha256.substring(0, 2)).resolve(sha256);
    }

    /** True when the entry is present as a regular file of exactly {@code size} bytes. */
    public boolean contains(String sha256, long size) {
        try {
            BasicFileAttributes attrs = Files.readAttributes(path(sha256), BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            return attrs.isRegularFile() && attrs.size() == size;
        } catch (IOException e) {
            return false;
        }
    }

    /** Directory for downloads in progress; on the store's file system, so {@link #commit} is a rename. */
    public Path tmpDir() {
        return tmp;
    }

    /**
     * Moves a verified temp file into place with an atomic rename (same file system); the {@code <ab>} directory
     * is created when missing. An existing entry is replaced, which is harmless: both hold the same verified bytes.
     * No fsync here: releases are synced once when built.
     *
     * @param verifiedTemp a file whose SHA-256 and size the caller checked against {@code sha256}
     * @return the entry's path
     */
    public Path commit(Path verifiedTemp, String sha256) throws IOException {
        commits.incrementAndGet(); // counted before the rename: a prune that reads the count after it sees the entry
        Path target = path(sha256);
        AppReadable.createDirectories(target.getParent());
        return Files.move(verifiedTemp, target, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * How many entries {@link #commit} has put into the store since it was opened. A caller that pruned the store at
     * count N and sees N again knows that nothing was added since (the store only grows through commit).
     */
    public long commits() {
        return commits.get();
    }

    /** Removes everything in {@code tmp/} (leftovers of an agent that stopped mid-download); call at agent start. */
    public void cleanTemp() throws IOException {
        List<Path> leftovers;
        try (Stream<Path> s = Files.walk(tmp)) {
            leftovers = s.filter(p -> !p.equals(tmp)).sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : leftovers) {
            Files.deleteIfExists(p);
        }
    }

    /** Sum of the sizes of all entries, in bytes. */
    public long totalBytes() throws IOException {
        long total = 0;
        for (Path entry : listEntries()) {
            total += sizeOrZero(entry);
        }
        return total;
    }

    /**
     * Deletes every entry whose digest is not in {@code keepSha256}, and {@code <ab>} directories left empty.
     * Files under {@code sha256/} that are not entries (wrong name or place) are left alone.
     *
     * @return bytes freed
     */
    public long prune(Set<String> keepSha256) throws IOException {
        long freed = 0;
        for (Path entry : listEntries()) {
            if (!keepSha256.contains(entry.getFileName().toString())) {
                long size = sizeOrZero(entry);
                if (Files.deleteIfExists(entry)) {
                    freed += size;
                }
                deleteIfEmpty(entry.getParent());
            }
        }
        return freed;
    }

    /** Regular files named by a sha256 inside the {@code <ab>} directory matching their first two characters. */
    private List<Path> listEntries() throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(entries)) {
            for (Path dir : dirs) {
                String ab = dir.getFileName().toString();
                if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                    for (Path f : files) {
                        String name = f.getFileName().toString();
                        if (Hashing.isSha256Hex(name) && name.startsWith(ab)
                                && Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                            out.add(f);
                        }
                    }
                }
            }
        }
        return out;
    }

    private static long sizeOrZero(Path p) throws IOException {
        try {
            return Files.size(p);
        } catch (NoSuchFileException e) {
            return 0;
        }
    }

    private static void deleteIfEmpty(Path dir) throws IOException {
        try {
            Files.deleteIfExists(dir);
        } catch (DirectoryNotEmptyException e) {
            // still holds kept entries
        }
    }
}

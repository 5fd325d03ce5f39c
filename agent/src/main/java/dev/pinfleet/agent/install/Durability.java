package dev.pinfleet.agent.install;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Makes a freshly built tree durable with one flush at the end instead of an fsync per file written.
 * The JDK has no {@code syncfs(2)}, so it runs coreutils {@code sync --file-system}, one call per file
 * system holding the given paths (which also covers the cache files the release hard-links). Where
 * that is unavailable it falls back to forcing every file and directory of the tree.
 */
final class Durability {
    private Durability() {}

    static final long SYNC_TIMEOUT_SECONDS = 300;

    /** Flushes {@code tree} (and the file systems of {@code alsoCovering}) to stable storage. */
    static void syncTree(Path tree, Path... alsoCovering) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("sync", "--file-system", tree.toString()));
        for (Path p : alsoCovering) {
            if (Files.exists(p)) {
                cmd.add(p.toString());
            }
        }
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (p.waitFor(SYNC_TIMEOUT_SECONDS, TimeUnit.SECONDS) && p.exitValue() == 0) {
                return;
            }
            p.destroyForcibly();
        } catch (IOException e) {
            // no sync(1) on this host: fall through to forcing each file
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while syncing " + tree, e);
        }
        forceEach(tree);
    }

    private static void forceEach(Path tree) throws IOException {
        Files.walkFileTree(tree, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) {
                    force(file);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                force(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void force(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}

package dev.pinfleet.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** The process's open file descriptors, for tests that a refused or closed file leaves none behind (Linux). */
public final class Descriptors {
    private Descriptors() {}

    /** How many of this process's file descriptors are open on {@code file} (from /proc/self/fd). */
    public static long openOn(Path file) throws IOException {
        String real = file.toRealPath().toString();
        return count(real::equals);
    }

    /**
     * How many of this process's file descriptors are open on files directly in {@code dir}, deleted ones included
     * (a file deleted while still open shows as "PATH (deleted)" in /proc/self/fd).
     */
    public static long openIn(Path dir) throws IOException {
        String prefix = dir.toRealPath() + "/";
        return count(target -> target.startsWith(prefix) && target.indexOf('/', prefix.length()) < 0);
    }

    private static long count(Predicate<String> target) throws IOException {
        long n = 0;
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    n += target.test(Files.readSymbolicLink(fd).toString()) ? 1 : 0;
                } catch (IOException closedMeanwhile) {
                    // the listing's own descriptor, closed by now
                }
            }
        }
        return n;
    }
}

package dev.pinfleet.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** The process's open file descriptors, for tests that a refused or closed file leaves none behind (Linux). */
public final class Descriptors {
    private Descriptors() {}

    /** How many of this process's file descriptors are open on {@code file} (from /proc/self/fd). */
    public static long openOn(Path file) throws IOException {
        Path real = file.toRealPath();
        long n = 0;
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    n += Files.readSymbolicLink(fd).equals(real) ? 1 : 0;
                } catch (IOException closedMeanwhile) {
                    // the listing's own descriptor, closed by now
                }
            }
        }
        return n;
    }
}

package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.pinfleet.manifest.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A download in progress holds one file descriptor, whether it starts over or is given up: an agent runs for months
 * and starts over or abandons a download on every cut connection or wrong answer, so a descriptor left behind each
 * time would pile up until the process can open no file. Counted in {@code /proc/self/fd} (Linux, as the agent).
 */
class PartialFileTest {
    @TempDir
    Path dir;

    @Test
    void startingOverClosesTheFileItEmptiesAndKeepsOnlyTheNewBytes() throws IOException {
        PartialFile part = PartialFile.create(dir);
        Path file = part.path().toRealPath();
        part.append(bytes("a cut download"), 14);
        assertEquals(1, descriptorsOn(file));

        for (int i = 0; i < 3; i++) {
            part.reset();
            assertEquals(1, descriptorsOn(file), "after starting over " + (i + 1) + " time(s)");
            part.append(bytes("fresh"), 5);
        }

        assertEquals(Hashing.sha256Hex(bytes("fresh")), part.finish());
        assertEquals("fresh", Files.readString(file));
        assertEquals(0, descriptorsOn(file), "finish closes it");
        part.delete();
    }

    @Test
    void givingUpClosesAndDeletesTheFile() throws IOException {
        PartialFile part = PartialFile.create(dir);
        Path file = part.path().toRealPath();
        part.append(bytes("half a wheel"), 12);

        part.delete();

        assertFalse(Files.exists(file));
        assertEquals(0, descriptorsOn(file), "no descriptor left on the deleted file");
    }

    /** Descriptors of this process open on {@code file} (also once it is deleted, which Linux shows by a suffix). */
    private static long descriptorsOn(Path file) throws IOException {
        String name = file.toString();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    return target.equals(name) || target.equals(name + " (deleted)");
                } catch (IOException gone) {
                    return false; // the descriptor of the listing itself, closed meanwhile
                }
            }).count();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}

package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one flush before a release is switched to. That the bytes reach the disk only a power loss would show; what a
 * test can see is that a flush that cannot happen is an error, never a silent success.
 */
class DurabilityTest {
    @TempDir
    Path tmp;

    @Test
    void aTreeThatCannotBeFlushedIsAnErrorNamingIt() {
        Path gone = tmp.resolve("release-that-is-gone");
        IOException e = assertThrows(IOException.class, () -> Durability.syncTree(gone, tmp));
        assertTrue(e.getMessage().contains(gone.toString()), e.getMessage());
    }
}

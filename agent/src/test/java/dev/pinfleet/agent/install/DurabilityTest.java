package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
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
    void whenSyncFailsEveryFileAndDirectoryOfTheTreeIsForcedInstead() throws Exception {
        Path tree = Files.createDirectories(tmp.resolve("release/lib/site"));
        Files.writeString(tree.resolve("mod.py"), "X = 1\n");
        Files.createSymbolicLink(tree.resolve("dangling"), tmp.resolve("nowhere")); // a link is not forced (nor followed)
        Path socket = tmp.resolve("agent.sock"); // sync(1) cannot open a socket: it fails, and the fallback runs
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(socket));
            Durability.syncTree(tmp.resolve("release"), socket);
        }
        assertEquals("X = 1\n", Files.readString(tree.resolve("mod.py")));
    }

    @Test
    void aTreeThatCannotBeFlushedIsAnErrorNamingIt() {
        Path gone = tmp.resolve("release-that-is-gone");
        IOException e = assertThrows(IOException.class, () -> Durability.syncTree(gone, tmp));
        assertTrue(e.getMessage().contains(gone.toString()), e.getMessage());
    }
}

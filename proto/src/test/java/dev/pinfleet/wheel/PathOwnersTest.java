package dev.pinfleet.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.pinfleet.wheel.PathOwners.Conflict;
import dev.pinfleet.wheel.PathOwners.Identity;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The one rule for who writes a path, as the agent's install and freeze both apply it. */
class PathOwnersTest {
    private static final Identity SIX = new Identity("file", "sha256=six", false);
    private static final Identity OVERLAID = new Identity("file", "sha256=overlaid", false);

    @Test
    void identicalBytesAreSharedAndTheFirstOwnerKeepsThePath() {
        PathOwners<String> o = new PathOwners<>();
        assertNull(o.file("six.py", "six", () -> SIX));
        assertNull(o.file("six.py", "copy", () -> SIX));
        assertNull(o.file("six.py", "another", () -> SIX));
        assertEquals("six", o.owner("six.py"));
        assertEquals(Map.of("six.py", List.of("six", "copy", "another")), o.shared());
    }

    @Test
    void differentContentOrModeIsAConflictNamingBothInClaimOrder() {
        PathOwners<String> o = new PathOwners<>();
        o.file("six.py", "six", () -> SIX);
        assertEquals(new Conflict<>("six.py", "six", "overlay", "different content"),
                o.file("six.py", "overlay", () -> OVERLAID));
        assertEquals(new Conflict<>("six.py", "six", "chmod", "the same bytes with another mode"),
                o.file("six.py", "chmod", () -> new Identity("file", "sha256=six", true)));
        assertEquals("six", o.owner("six.py"));
        assertEquals(Map.of(), o.shared());
    }

    @Test
    void installerMetadataIsNeverShared() {
        PathOwners<String> o = new PathOwners<>();
        Identity record = new Identity("metadata", "a-1.0.dist-info", false);
        o.file("a-1.0.dist-info/RECORD", "a", () -> record);
        assertEquals("different content", o.file("a-1.0.dist-info/RECORD", "b", () -> record).how());
    }

    @Test
    void aFileWhereAnotherNeedsADirectoryIsAConflictWhateverTheOrder() {
        PathOwners<String> o = new PathOwners<>();
        o.file("pkg", "flat", () -> SIX);
        o.file("pkg/__init__.py", "nested", () -> OVERLAID);
        for (String dir : PathOwners.parents("pkg/__init__.py")) {
            assertEquals(new Conflict<>("pkg", "flat", "nested", "a file of one, a directory the other needs"),
                    o.directory(dir, "nested"));
        }
        assertNull(o.directory("other", "nested"));
    }

    @Test
    void theIdentityIsAskedOnlyWhenAPathIsClaimedTwice() {
        PathOwners<String> o = new PathOwners<>();
        AtomicInteger asked = new AtomicInteger();
        o.file("a.py", "a", () -> {
            asked.incrementAndGet();
            return SIX;
        });
        o.file("b.py", "b", () -> {
            asked.incrementAndGet();
            return SIX;
        });
        assertEquals(0, asked.get());
        o.file("a.py", "c", () -> SIX);
        assertEquals(1, asked.get(), "the first claim's identity, once the path is contested");
    }

    @Test
    void parentsAreListedOutermostFirst() {
        assertEquals(List.of("a", "a/b"), PathOwners.parents("a/b/c.py"));
        assertEquals(List.of(), PathOwners.parents("six.py"));
    }
}

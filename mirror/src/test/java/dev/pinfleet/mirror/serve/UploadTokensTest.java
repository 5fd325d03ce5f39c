package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Upload tokens files as an operator writes them: who is known, which token opens which user, what is refused. */
class UploadTokensTest {
    @TempDir
    Path dir;

    @Test
    void eachUsersTokensAndOnlyThoseAuthenticate() throws IOException {
        String alice1 = UploadTokens.newToken();
        String alice2 = UploadTokens.newToken();
        String bob = UploadTokens.newToken();
        Path f = Files.writeString(dir.resolve("tokens"), "# rotating alice's token\n\n"
                + UploadTokens.line("alice", alice1) + "\n  " + UploadTokens.line("alice", alice2) + "  \n"
                + UploadTokens.line("bob", bob) + "\n");
        UploadTokens t = UploadTokens.read(f);
        assertEquals(Set.of("alice", "bob"), t.users());
        assertTrue(t.authenticate("alice", alice1));
        assertTrue(t.authenticate("alice", alice2), "the second of a user's tokens counts as well as the first");
        assertTrue(t.authenticate("bob", bob));
        assertFalse(t.authenticate("alice", bob), "bob's token does not open alice");
        assertFalse(t.authenticate("bob", alice1));
        assertFalse(t.authenticate("carol", bob), "an unknown user");
        assertFalse(t.authenticate(null, bob));
        assertFalse(t.authenticate("alice", ""));
    }

    @Test
    void newTokensAreLongRandomAndUrlSafe() {
        String a = UploadTokens.newToken();
        assertEquals(43, a.length(), "32 bytes, base64 without padding");
        assertTrue(a.matches("[A-Za-z0-9_-]+"), a);
        assertNotEquals(a, UploadTokens.newToken());
        assertEquals("alice 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                UploadTokens.line("alice", "hello"));
    }

    @Test
    void malformedLinesAreRefusedNamingFileAndLine() throws IOException {
        String ok = UploadTokens.line("alice", "t");
        assertRefused("# header\n" + ok + "\nbob\n", ":3: expected 'USER SHA256-OF-TOKEN', found 1 field(s)");
        assertRefused(ok + " extra\n", ":1: expected 'USER SHA256-OF-TOKEN', found 3 field(s)");
        assertRefused("Bad/User " + "0".repeat(64) + "\n", ":1: user name 'Bad/User' must match");
        assertRefused("alice hunter2\n", ":1: 'hunter2' is not a sha256 digest (64 lowercase hex); store the token's"
                + " digest, never the token");
        Path empty = Files.writeString(dir.resolve("empty"), "# nobody yet\n\n");
        IOException e = assertThrows(IOException.class, () -> UploadTokens.read(empty));
        assertEquals(empty + " lists no upload token; uploads would be refused to everyone", e.getMessage());
    }

    private void assertRefused(String content, String why) throws IOException {
        Path f = Files.writeString(dir.resolve("t" + content.hashCode()), content);
        IOException e = assertThrows(IOException.class, () -> UploadTokens.read(f));
        assertTrue(e.getMessage().startsWith(f + why), e.getMessage());
    }
}

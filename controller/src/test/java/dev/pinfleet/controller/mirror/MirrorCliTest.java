package dev.pinfleet.controller.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.controller.cli.PinfleetCli;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import dev.pinfleet.mirror.serve.NginxTier;
import dev.pinfleet.mirror.serve.UploadSettings;
import dev.pinfleet.mirror.serve.UploadTokens;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The mirror's operator commands through the real CLI: init, sign-off, publish (local and HTTP), verify. */
@Timeout(120)
class MirrorCliTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2024-05-06T07:08:09Z"), ZoneOffset.UTC);

    @TempDir Path dir;
    Path mirror;
    Path wheel;
    Path otherBytes;

    record Run(int code, String out, String err) {}

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = PinfleetCli.run(args, new PrintWriter(out), new PrintWriter(err), CLOCK);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeEach
    void setUp() throws Exception {
        mirror = dir.resolve("mirror");
        wheel = TestWheels.wheel("greet", "1.0").file("greet/__init__.py", "HELLO = 'hi'\n")
                .build(Files.createDirectories(dir.resolve("a")));
        otherBytes = TestWheels.wheel("greet", "1.0").file("greet/__init__.py", "HELLO = 'bye'\n")
                .build(Files.createDirectories(dir.resolve("b")));
    }

    @Test
    void initSignOffPublishAndVerifyLocally() throws Exception {
        Run init = cli("mirror", "init", "--mirror", mirror.toString());
        assertEquals(0, init.code(), init.err());
        assertTrue(init.out().contains("created packages/, policy/POLICY.md, policy/version, uploaders, simple/index.html"),
                init.out());

        Run refused = cli("mirror", "publish", wheel.toString(), "--mirror", mirror.toString(), "--as", "alice");
        assertEquals(1, refused.code());
        assertTrue(refused.err().contains("does not list alice") && refused.err().contains(
                "pinfleet mirror acknowledge --mirror " + mirror + " --as alice --policy-version 1"), refused.err());
        assertFalse(Files.exists(mirror.resolve("audit.log")));

        // Without --policy-version (and not on a terminal): the policy, its version and the command that signs it off;
        // showing it is what was asked, so it succeeds, and signs off nothing.
        Run show = cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "alice");
        assertEquals(0, show.code(), show.err());
        assertTrue(show.out().contains("Upload policy of mirror " + mirror + ", version 1") && show.out().contains("append-only"),
                show.out());
        assertTrue(show.out().endsWith("to sign it off, run: pinfleet mirror acknowledge --mirror " + mirror
                + " --as alice --policy-version 1\n"), show.out());
        assertFalse(Files.readString(mirror.resolve("uploaders")).contains("alice"), "showing the policy signs off nothing");
        Run wrong = cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "alice", "--policy-version", "0");
        assertEquals(1, wrong.code());
        assertTrue(wrong.err().contains("the current version is 1"), wrong.err());
        Run ack = cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "alice", "--policy-version", "1");
        assertEquals(0, ack.code(), ack.err());
        assertTrue(ack.out().startsWith("alice signed off upload policy version 1 of mirror " + mirror
                + " at 2024-05-06T07:08:09Z"), ack.out());

        Run pub = cli("mirror", "publish", wheel.toString(), "--mirror", mirror.toString(), "--as", "alice");
        assertEquals(0, pub.code(), pub.err());
        assertTrue(pub.out().startsWith("published packages/greet/greet-1.0-py3-none-any.whl sha256 "
                + Hashing.sha256Hex(wheel)), pub.out());
        assertTrue(Files.readString(mirror.resolve("audit.log")).startsWith(
                "{\"time\":\"2024-05-06T07:08:09Z\",\"user\":\"alice\""), "audit stamped by the injected clock");
        Run again = cli("mirror", "publish", wheel.toString(), "--mirror", mirror.toString(), "--as", "alice");
        assertTrue(again.out().startsWith("unchanged"), again.out());
        Run overwrite = cli("mirror", "publish", otherBytes.toString(), "--mirror", mirror.toString(), "--as", "alice");
        assertEquals(1, overwrite.code());
        assertTrue(overwrite.err().contains("is already published with sha256 " + Hashing.sha256Hex(wheel)), overwrite.err());

        Run ok = cli("mirror", "verify", "--mirror", mirror.toString());
        assertEquals(0, ok.code(), ok.out() + ok.err());
        assertTrue(ok.out().endsWith(": 1 file(s) checked against 1 audit record(s): ok\n"), ok.out());

        Path placed = mirror.resolve("packages/greet/greet-1.0-py3-none-any.whl");
        Files.copy(otherBytes, placed, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(mirror.resolve("packages/greet/greet-0.9-py3-none-any.whl"), "dropped in by hand");
        Run bad = cli("mirror", "verify", "--mirror", mirror.toString());
        assertEquals(1, bad.code(), bad.out());
        assertTrue(bad.out().contains("tampered packages/greet/greet-1.0-py3-none-any.whl: sha256 "
                + Hashing.sha256Hex(otherBytes)), bad.out());
        assertTrue(bad.out().contains("unlogged packages/greet/greet-0.9-py3-none-any.whl"), bad.out());
        assertTrue(bad.out().contains("1 tampered, 1 unlogged"), bad.out());
    }

    @Test
    void publishOverHttpNeedsATokenAndASignOff() throws Exception {
        assertEquals(0, cli("mirror", "init", "--mirror", mirror.toString()).code());
        assertEquals(0, cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "alice", "--policy-version", "1").code());
        Path tokens = dir.resolve("server/tokens");
        Files.createDirectories(tokens.getParent());
        Run t1 = cli("mirror", "token", "alice", "--token-file", dir.resolve("alice.token").toString(), "--tokens",
                tokens.toString());
        assertEquals(0, t1.code(), t1.err());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("alice.token"))));
        assertEquals(0, cli("mirror", "token", "bob", "--token-file", dir.resolve("bob.token").toString(), "--tokens",
                tokens.toString()).code());
        assertFalse(Files.readString(tokens).contains(Files.readString(dir.resolve("alice.token")).strip()),
                "the tokens file holds digests only");

        try (MirrorServer server = new MirrorServer(mirror, new InetSocketAddress("127.0.0.1", 0),
                new SimpleMeterRegistry(), MirrorServer.Options.defaults(),
                new UploadSettings(UploadTokens.read(tokens), UploadSettings.DEFAULT_MAX_BYTES, new Publisher(CLOCK)))) {
            String url = "http://127.0.0.1:" + server.start() + "/";

            Run pub = cli("mirror", "publish", wheel.toString(), "--mirror", url, "--as", "alice", "--token-file",
                    dir.resolve("alice.token").toString());
            assertEquals(0, pub.code(), pub.err());
            assertTrue(pub.out().startsWith("published packages/greet/greet-1.0-py3-none-any.whl sha256 "
                    + Hashing.sha256Hex(wheel)), pub.out());
            Run again = cli("mirror", "publish", wheel.toString(), "--mirror", url, "--as", "alice", "--token-file",
                    dir.resolve("alice.token").toString());
            assertTrue(again.out().startsWith("unchanged"), again.out() + again.err());

            Run conflict = cli("mirror", "publish", otherBytes.toString(), "--mirror", url, "--as", "alice",
                    "--token-file", dir.resolve("alice.token").toString());
            assertEquals(1, conflict.code());
            assertTrue(conflict.err().contains("refused greet-1.0-py3-none-any.whl (HTTP 409)"), conflict.err());

            Run unsigned = cli("mirror", "publish", otherBytes.toString(), "--mirror", url, "--as", "bob",
                    "--token-file", dir.resolve("bob.token").toString());
            assertEquals(1, unsigned.code());
            assertTrue(unsigned.err().contains("(HTTP 403)") && unsigned.err().contains("does not list bob"),
                    unsigned.err());

            Run stolen = cli("mirror", "publish", otherBytes.toString(), "--mirror", url, "--as", "alice",
                    "--token-file", dir.resolve("bob.token").toString());
            assertEquals(1, stolen.code());
            assertTrue(stolen.err().contains("(HTTP 401)"), stolen.err());

            Path open = dir.resolve("open.token");
            Files.copy(dir.resolve("alice.token"), open);
            Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
            Run leaky = cli("mirror", "publish", wheel.toString(), "--mirror", url, "--as", "alice", "--token-file",
                    open.toString());
            assertEquals(1, leaky.code());
            assertTrue(leaky.err().contains("readable by group or others; chmod 600"), leaky.err());
        }
        List<String> audit = Files.readAllLines(mirror.resolve("audit.log"));
        assertEquals(1, audit.size());
        assertTrue(audit.get(0).contains("\"user\":\"alice\"") && audit.get(0).contains("\"policy\":\"1\""), audit.get(0));
        assertEquals(0, cli("mirror", "verify", "--mirror", mirror.toString()).code());
    }

    @Test
    void theMirrorAsABareDirStillWorksWithANote() throws Exception {
        Run init = cli("mirror", "init", mirror.toString());
        assertEquals(0, init.code(), init.err());
        assertEquals("pinfleet: note: the mirror as a bare DIR is deprecated; write pinfleet mirror init --mirror "
                + mirror + "\n", init.err());
        assertTrue(Files.exists(mirror.resolve("policy/version")));
        Run none = cli("mirror", "verify");
        assertEquals(2, none.code());
        assertEquals("pinfleet: which mirror? give its directory as --mirror DIR\n", none.err());
        Run two = cli("mirror", "verify", "--mirror", mirror.toString(), dir.toString());
        assertEquals(2, two.code());
        assertTrue(two.err().contains("two mirror directories given"), two.err());
    }

    @Test
    void nginxConfPrintsAServerBlockThatServesOnlyTheIndexAndPackages() {
        Run r = cli("mirror", "nginx-conf", "--mirror", "/srv/pinfleet-mirror", "--listen", "8081", "--server-name",
                "mirror.internal", "--uploads-to", "http://127.0.0.1:8080");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("server {\n    listen 8081;\n    server_name mirror.internal;\n"
                + "    root /srv/pinfleet-mirror;\n    autoindex off;\n"), r.out());
        assertTrue(r.out().contains("location ~ /\\. { return 404; }"), r.out());
        assertTrue(r.out().contains("proxy_pass http://127.0.0.1:8080;"), r.out());
        assertTrue(r.out().endsWith("    location / { return 404; }\n}\n"), r.out());
        Run bad = cli("mirror", "nginx-conf", "--mirror", "/srv/mirror; evil", "--listen", "80");
        assertEquals(2, bad.code());
    }

    @Test
    void nginxConfCacheOfPrintsTheRolesTierTemplateWithTheGivenValues() {
        Run r = cli("mirror", "nginx-conf", "--cache-of", "http://mirror1.internal", "--listen", "10.0.2.5:80",
                "--server-name", "cache-a.internal", "--cache-dir", "/srv/cache", "--cache-max-size", "200g",
                "--cache-slice", "4m");
        assertEquals(0, r.code(), r.err());
        assertEquals(new NginxTier("http://mirror1.internal/", "10.0.2.5:80", "cache-a.internal",
                Path.of("/srv/cache"), "16m", "200g", "30d", "10s", "4m", "20s",
                Path.of("/etc/ssl/certs/ca-certificates.crt")).render(), r.out());
        assertTrue(r.out().contains("\n        proxy_pass http://mirror1.internal/packages/;\n"), r.out());

        Run both = cli("mirror", "nginx-conf", "--mirror", "/srv/mirror", "--cache-of", "http://mirror1.internal/");
        assertEquals(2, both.code());
        assertTrue(both.err().contains("either --mirror DIR (an origin, the directory as nginx will see it) or --cache-of URL"),
                both.err());
        assertEquals(2, cli("mirror", "nginx-conf").code());
        Run uploads = cli("mirror", "nginx-conf", "--cache-of", "http://m/", "--uploads-to", "http://127.0.0.1:8080");
        assertEquals(2, uploads.code());
        assertTrue(uploads.err().contains("a cache tier never takes uploads"), uploads.err());
        Run query = cli("mirror", "nginx-conf", "--cache-of", "http://m/?x=1");
        assertEquals(2, query.code());
        assertTrue(query.err().contains("origin URL 'http://m/?x=1' must be http(s)://HOST[:PORT][/PATH]"), query.err());
    }
}

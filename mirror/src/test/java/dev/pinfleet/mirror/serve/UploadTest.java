package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.audit.AuditLog;
import dev.pinfleet.mirror.audit.MirrorVerifier;
import dev.pinfleet.mirror.policy.UploadPolicy;
import dev.pinfleet.mirror.policy.Uploaders;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.proto.v1.UploadResult;
import dev.pinfleet.wheel.testing.HostileWheels;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP upload endpoint over real loopback sockets: authentication, sign-off, append-only, limits. (The
 * JDK 17 HttpClient hangs when an {@code Expect: 100-continue} request gets a final answer instead of 100, so
 * those cases use a raw socket.)
 */
@Timeout(60)
class UploadTest {
    private static final long LIMIT = 4L << 20;

    @TempDir
    Path tmp;
    private Path dir;
    private PrometheusMeterRegistry registry;
    private MirrorServer server;
    private int port;
    private final String aliceToken = UploadTokens.newToken();
    private final String bobToken = UploadTokens.newToken();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        dir = tmp.resolve("mirror");
        UploadPolicy.init(dir, null);
        Uploaders.acknowledge(dir, "alice", "1", Instant.now());
        Path tokens = tmp.resolve("tokens");
        Files.writeString(tokens, "# upload tokens\n" + UploadTokens.line("alice", aliceToken) + "\n"
                + UploadTokens.line("bob", bobToken) + "\n");
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        server = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0), registry,
                MirrorServer.Options.defaults(), new UploadSettings(UploadTokens.read(tokens), LIMIT, new Publisher()));
        port = server.start();
    }

    @AfterEach
    void stop() {
        server.close();
        registry.close();
    }

    private HttpResponse<String> put(String name, byte[] body, String user, String token, boolean expectContinue)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/upload/" + name))
                .timeout(Duration.ofSeconds(20)).expectContinue(expectContinue)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body));
        if (user != null) {
            b.header("Authorization", basic(user, token));
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private Path wheel(String version, String content) throws IOException {
        return TestWheels.wheel(tmp.resolve("in-" + version + content.hashCode()), "demo", version, "",
                Map.of("demo.py", content));
    }

    @Test
    void aSignedOffUserPublishesOverHttpAndTheSameBytesAgainAreANoOp() throws Exception {
        Path w = wheel("1.0", "x = 1\n");
        byte[] bytes = Files.readAllBytes(w);
        HttpResponse<String> r = put(w.getFileName().toString(), bytes, "alice", aliceToken, false);
        assertEquals(201, r.statusCode(), r.body());
        assertEquals("{\"outcome\":\"published\",\"file\":\"packages/demo/demo-1.0-py3-none-any.whl\",\"sha256\":\""
                + Hashing.sha256Hex(bytes) + "\",\"size\":" + bytes.length + ",\"user\":\"alice\"}\n", r.body(),
                "one JSON line, the size a number");
        UploadResult json = ProtoJson.parse(r.body(), UploadResult.newBuilder()).build();
        assertEquals("published", json.getOutcome());
        assertEquals(bytes.length, json.getSize());
        assertArrayEquals(bytes, Files.readAllBytes(dir.resolve("packages/demo/demo-1.0-py3-none-any.whl")));
        String audit = Files.readString(dir.resolve("audit.log"));
        assertTrue(audit.contains("\"user\":\"alice\"") && audit.contains("\"policy\":\"1\""), audit);

        HttpResponse<String> again = put(w.getFileName().toString(), bytes, "alice", aliceToken, true);
        assertEquals(200, again.statusCode(), again.body());
        assertEquals("unchanged", ProtoJson.parse(again.body(), UploadResult.newBuilder()).getOutcome());
        assertEquals(1, Files.readAllLines(dir.resolve("audit.log")).size());

        HttpResponse<String> index = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/simple/demo/")).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(index.body().contains("#sha256=" + Hashing.sha256Hex(bytes)), index.body());
        assertTrue(MirrorVerifier.verify(dir).ok());
        assertTrue(registry.scrape().contains("pinfleet_mirror_uploads_total{outcome=\"published\"} 1.0"),
                registry.scrape());
        assertEquals(List.of(), incoming());
    }

    @Test
    void otherBytesUnderAPublishedNameAre409AndTheFileIsUntouched() throws Exception {
        Path first = wheel("1.0", "one\n");
        Path second = wheel("1.0", "two\n");
        assertEquals(201, put(first.getFileName().toString(), Files.readAllBytes(first), "alice", aliceToken, false)
                .statusCode());
        HttpResponse<String> r = put(second.getFileName().toString(), Files.readAllBytes(second), "alice", aliceToken,
                false);
        assertEquals(409, r.statusCode(), r.body());
        assertTrue(r.body().startsWith("409 Conflict: packages/demo/demo-1.0-py3-none-any.whl is already published"),
                r.body());
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(dir.resolve("packages/demo/" + first.getFileName())));
        assertEquals(List.of(), incoming());
    }

    @Test
    void badCredentialsAre401AndNothingIsWritten() throws Exception {
        Path w = wheel("1.0", "x\n");
        byte[] bytes = Files.readAllBytes(w);
        String name = w.getFileName().toString();
        for (String[] cred : new String[][] {{null, null}, {"alice", bobToken}, {"alice", aliceToken + "x"},
            {"carol", aliceToken}}) {
            HttpResponse<String> r = put(name, bytes, cred[0], cred[1], false);
            assertEquals(401, r.statusCode(), r.body());
            assertTrue(r.headers().firstValue("www-authenticate").orElse("").startsWith("Basic "), r.headers().toString());
            assertTrue(r.body().contains("HTTP Basic credentials USER:TOKEN"), r.body());
        }
        RawHttp.Response early = expectContinue(name, bytes.length, "alice", "wrong");
        assertEquals(401, early.status(), "refused before the body is sent: " + early.head());
        assertFalse(Files.exists(dir.resolve("packages/demo")));
        assertFalse(Files.exists(dir.resolve("audit.log")));
        assertEquals(List.of(), incoming());
    }

    @Test
    void anAuthenticatedUserWhoHasNotSignedOffIs403PointingAtThePolicy() throws Exception {
        Path w = wheel("1.0", "x\n");
        HttpResponse<String> r = put(w.getFileName().toString(), Files.readAllBytes(w), "bob", bobToken, false);
        assertEquals(403, r.statusCode(), r.body());
        assertTrue(r.body().contains("does not list bob") && r.body().contains("POLICY.md (version 1)"), r.body());
        assertFalse(Files.exists(dir.resolve("packages/demo")));

        Files.writeString(dir.resolve("policy/version"), "2\n");
        HttpResponse<String> old = put(w.getFileName().toString(), Files.readAllBytes(w), "alice", aliceToken, false);
        assertEquals(403, old.statusCode(), old.body());
        assertTrue(old.body().contains("signed off upload policy version 1") && old.body().contains("current version is 2"),
                old.body());
    }

    @Test
    void invalidWheelsAndBadTargetsAre400Or404() throws Exception {
        Path w = wheel("1.0", "x\n");
        byte[] bytes = Files.readAllBytes(w);
        HttpResponse<String> liar = put("demo-2.0-py3-none-any.whl", bytes, "alice", aliceToken, false);
        assertEquals(400, liar.statusCode(), liar.body());
        assertTrue(liar.body().contains("names demo 1.0, but the file name is for demo 2.0"), liar.body());
        HttpResponse<String> notAWheel = put("notes.txt", bytes, "alice", aliceToken, false);
        assertEquals(400, notAWheel.statusCode(), notAWheel.body());
        HttpResponse<String> garbage = put("demo-3.0-py3-none-any.whl", "not a zip".getBytes(), "alice", aliceToken,
                false);
        assertEquals(400, garbage.statusCode(), garbage.body());
        HttpResponse<String> escape = put("..%2F..%2Fevil-1.0-py3-none-any.whl", bytes, "alice", aliceToken, false);
        assertEquals(400, escape.statusCode(), escape.body());
        HttpResponse<String> deep = put("a/demo-1.0-py3-none-any.whl", bytes, "alice", aliceToken, false);
        assertEquals(404, deep.statusCode(), deep.body());
        assertFalse(Files.exists(dir.resolve("packages/demo")));
        assertEquals(List.of(), incoming());
    }

    /**
     * The wheels every agent refuses are 400 with the entry and the rule named, nothing published, each refusal
     * audited as one (not as a publish);
     * the bomb (2 GiB of zeros in 2 MB, its RECORD hash correct) from its central directory, in the same
     * answer that a local publish gives before inflating anything.
     */
    @Test
    void wheelsEveryAgentRefusesAre400AndAreAuditedAsRefusals() throws Exception {
        HostileWheels hostile = HostileWheels.write(Files.createDirectories(tmp.resolve("hostile")));
        Path bomb = hostile.bomb();
        Map<Path, String> refusals = Map.of(
                hostile.link(), "linky-1.0-py3-none-any.whl: entry 'linky/passwd': symbolic link entries are not allowed",
                hostile.script(), "scripty-1.0-py3-none-any.whl: entry 'scripty-1.0.dist-info/entry_points.txt': entry point "
                        + "name '../../x' refused",
                bomb, "bomby-1.0-py3-none-any.whl: entry 'bomby/zeros.bin': compression ratio 1028:1 (2147483648 "
                        + "bytes from ");
        for (Map.Entry<Path, String> c : refusals.entrySet()) {
            HttpResponse<String> r = put(c.getKey().getFileName().toString(), Files.readAllBytes(c.getKey()), "alice",
                    aliceToken, false);
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().startsWith("400 Bad Request: " + c.getValue()), r.body());
        }
        HttpResponse<String> r = put(bomb.getFileName().toString(), Files.readAllBytes(bomb), "alice", aliceToken, false);
        assertTrue(r.body().contains("exceeds the limit of 200:1 (zip bomb guard)"), r.body());
        List<AuditLog.Line> audit = AuditLog.read(dir);
        assertEquals(4, audit.size(), "each refused upload is audited: " + audit);
        for (AuditLog.Line l : audit) {
            assertTrue(l.record().isRefusal() && l.record().user().equals("alice"), "a refusal, not a publish: " + l);
        }
        assertEquals(List.of(), MirrorVerifier.verify(dir).findings(), "refusal lines are not files to check");
        try (Stream<Path> s = Files.list(dir.resolve("packages"))) {
            assertEquals(List.of(), s.toList());
        }
        assertTrue(registry.scrape().contains("pinfleet_mirror_uploads_total{outcome=\"refused\"} 4.0"),
                registry.scrape());
        assertEquals(List.of(), incoming());
    }

    @Test
    void aBodyOverTheLimitIs413() throws Exception {
        RawHttp.Response declared = expectContinue("demo-1.0-py3-none-any.whl", LIMIT + 1, "alice", aliceToken);
        assertEquals(413, declared.status(), declared.head());
        assertTrue(declared.bodyText().contains("at most " + LIMIT + " bytes"), declared.bodyText());

        // chunked, so the size is only known while reading: cut off at the limit
        StringBuilder chunked = new StringBuilder("PUT /upload/demo-1.0-py3-none-any.whl HTTP/1.1\r\nHost: x\r\n"
                + "Authorization: " + basic("alice", aliceToken) + "\r\nTransfer-Encoding: chunked\r\n\r\n");
        String chunk = "x".repeat(64 * 1024);
        for (long sent = 0; sent <= LIMIT; sent += chunk.length()) {
            chunked.append(Integer.toHexString(chunk.length())).append("\r\n").append(chunk).append("\r\n");
        }
        chunked.append("0\r\n\r\n");
        RawHttp.Response cut = RawHttp.send(port, chunked.toString());
        assertEquals(413, cut.status(), cut.head());
        assertEquals(List.of(), incoming());
        assertFalse(Files.exists(dir.resolve("packages/demo")));
    }

    /** Sends only the head of a PUT with Expect: 100-continue, and reads what the server answers to it. */
    private RawHttp.Response expectContinue(String name, long length, String user, String token) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("PUT /upload/" + name + " HTTP/1.1\r\nHost: x\r\nAuthorization: "
                    + basic(user, token) + "\r\nContent-Length: " + length + "\r\nExpect: 100-continue\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return RawHttp.parse(RawHttp.readAll(s.getInputStream()));
        }
    }

    private static String basic(String user, String token) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + token).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aLargeValidWheelStreamsThrough() throws Exception {
        byte[] noise = new byte[3 << 20];
        new Random(2).nextBytes(noise);
        Path w = TestWheels.wheel(tmp.resolve("big"), "bigdemo", "1.0", "",
                Map.of("bigdemo.py", Base64.getEncoder().encodeToString(noise).substring(0, 3_500_000)));
        byte[] bytes = Files.readAllBytes(w);
        assertTrue(bytes.length > (2 << 20) && bytes.length < LIMIT, "size " + bytes.length);
        HttpResponse<String> r = put(w.getFileName().toString(), bytes, "alice", aliceToken, false);
        assertEquals(201, r.statusCode(), r.body());
        assertEquals(Hashing.sha256Hex(bytes), Hashing.sha256Hex(dir.resolve("packages/bigdemo/" + w.getFileName())));
    }

    @Test
    void withoutUploadSettingsTheServerStaysReadOnly() throws Exception {
        try (MirrorServer readOnly = new MirrorServer(dir, new InetSocketAddress("127.0.0.1", 0),
                new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))) {
            int p = readOnly.start();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + p + "/upload/demo-1.0-py3-none-any.whl"))
                    .PUT(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, r.statusCode());
            assertTrue(r.body().contains("uploads are not enabled on this mirror"), r.body());
        }
    }

    @Test
    void aTokensFileMustHoldDigestsNotTokens() throws Exception {
        Path f = tmp.resolve("bad-tokens");
        Files.writeString(f, "alice " + aliceToken + "\n");
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> UploadTokens.read(f));
        assertTrue(e.getMessage().startsWith(f + ":1: ") && e.getMessage().contains("never the token"), e.getMessage());
    }

    private List<Path> incoming() throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve(".incoming"))) {
            return s.toList();
        }
    }
}

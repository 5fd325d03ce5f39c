package dev.pinfleet.agent.fetch;

import static dev.pinfleet.agent.testing.FakeMirror.randomBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plain-socket HTTP/1.1 transport against a raw server on loopback that answers each request with scripted
 * bytes: the response framings a server may choose (chunked with extensions and trailers, close-delimited,
 * Content-Length on a connection kept open) and responses that are not HTTP.
 */
class PlainHttpDownloadTest {
    /** One try, limits no scheduler delay comes near: 10 s idle, 30 s for the whole response. */
    private static final FetchConfig ONE_TRY = new FetchConfig(2, Duration.ofSeconds(10), Duration.ofSeconds(30),
            Duration.ofSeconds(10), 1, Duration.ZERO);

    @TempDir Path dir;
    private ServerSocket server;
    private Thread serving;
    /** Where the raw server listens: IPv4 loopback unless a test asks for IPv6's. */
    private InetAddress listenOn = InetAddress.getLoopbackAddress();
    /** Close each connection with a TCP reset (SO_LINGER 0) instead of an orderly FIN. */
    private boolean reset;
    /** When set, the response head is sent one byte at a time with this pause after each (the body at once). */
    private Duration headPace;
    /** The request heads the server received, in order. */
    private final List<String> requests = new CopyOnWriteArrayList<>();
    /** Counted down when a connection kept open was closed by the client (the server read its end). */
    private final CountDownLatch clientClosed = new CountDownLatch(1);

    /** Serves every connection with {@code response}; keeps the connection open afterwards when asked. */
    private URI serve(byte[] response, boolean keepOpen) throws IOException {
        return serveInTurn(keepOpen, response);
    }

    /** Serves the n-th connection with the n-th response (the last one repeating). */
    private URI serveInTurn(boolean keepOpen, byte[]... responses) throws IOException {
        server = new ServerSocket(0, 50, listenOn);
        serving = new Thread(() -> {
            for (int n = 0; !server.isClosed(); n++) {
                byte[] response = responses[Math.min(n, responses.length - 1)];
                try (Socket s = server.accept()) {
                    requests.add(readHead(s.getInputStream()));
                    OutputStream out = s.getOutputStream();
                    int head = headPace == null ? 0 : headLength(response);
                    for (int i = 0; i < head; i++) {
                        out.write(response[i]);
                        out.flush();
                        Thread.sleep(headPace.toMillis());
                    }
                    out.write(response, head, response.length - head);
                    out.flush();
                    if (keepOpen) {
                        s.setSoTimeout(60_000); // longer than ONE_TRY's idle timeout
                        if (s.getInputStream().read() < 0) {
                            clientClosed.countDown();
                        }
                    }
                    if (reset) {
                        s.setSoLinger(true, 0);
                    }
                } catch (IOException | InterruptedException e) {
                    return;
                }
            }
        }, "raw-http");
        serving.setDaemon(true);
        serving.start();
        String host = listenOn.getHostAddress();
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.getLocalPort() + "/");
    }

    private static int headLength(byte[] response) {
        String text = new String(response, StandardCharsets.ISO_8859_1);
        return text.indexOf("\r\n\r\n") + 4;
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (!b.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                break;
            }
            b.write(c);
        }
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
            serving.join(10_000);
        }
    }

    private static Artifact artifact(byte[] content) {
        return Artifact.newBuilder().setName("a").setVersion("1.0").setFilename("a-1.0-py3-none-any.whl")
                .setPath("a-1.0-py3-none-any.whl").setSha256(Hashing.sha256Hex(content)).setSize(content.length)
                .setKind(ArtifactKind.WHEEL).build();
    }

    private Path fetch(URI mirror, Artifact a) throws Exception {
        return fetch(mirror, a, ONE_TRY);
    }

    private Path fetch(URI mirror, Artifact a, FetchConfig cfg) throws Exception {
        ContentStore store = new ContentStore(dir.resolve("store"));
        try (Fetcher f = new Fetcher(List.of(mirror), store, cfg, Sleeper.system())) {
            f.fetchAll(List.of(a), null);
        }
        return store.path(a.getSha256());
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }

    @Test
    void chunkedBodyWithExtensionsAndTrailersIsDecoded() throws Exception {
        byte[] content = randomBytes(70_000, 1);
        byte[] response = concat(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                bytes(Integer.toHexString(50_000) + ";name=value\r\n"), java.util.Arrays.copyOf(content, 50_000),
                bytes("\r\n" + Integer.toHexString(20_000) + "\r\n"),
                java.util.Arrays.copyOfRange(content, 50_000, 70_000), bytes("\r\n0\r\nX-Checksum: none\r\n\r\n"));
        Artifact a = artifact(content);
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(response, false), a)));
    }

    @Test
    void bodyEndedByClosingTheConnectionIsAccepted() throws Exception {
        byte[] content = randomBytes(30_000, 2);
        Artifact a = artifact(content);
        byte[] response = concat(bytes("HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"), content);
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(response, false), a)));
    }

    @Test
    void contentLengthBodyEndsWithoutWaitingForTheServerToClose() throws Exception {
        byte[] content = randomBytes(10_000, 3);
        Artifact a = artifact(content);
        byte[] response = concat(bytes("HTTP/1.1 200 OK\r\nContent-Length: " + content.length + "\r\n\r\n"), content);
        // The server keeps the connection open for 60 s: a client that read on after Content-Length would only be
        // stopped by the 10 s idle timeout, and that is a failed fetch. No clock is read.
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(response, true), a)));
        // ... and the client closes its end once done (30 s: far beyond any scheduler delay; it is at once)
        assertTrue(clientClosed.await(30, TimeUnit.SECONDS), "the client closed the connection after the body");
        assertEquals("GET /a-1.0-py3-none-any.whl HTTP/1.1\r\nHost: " + requestedAuthority() + "\r\nUser-Agent: "
                + "pinfleet-agent\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n", requests.get(0),
                "the request: the path alone, no query, no Range for a download from byte 0");
    }

    @Test
    void responseThatIsNotHttpIsAConnectionFailureNamingWhatCame() throws Exception {
        Artifact a = artifact(randomBytes(100, 4));
        FetchException e = assertThrows(FetchException.class,
                () -> fetch(serve(bytes("SSH-2.0-OpenSSH_9.2\r\n\r\n"), false), a));
        assertEquals(FetchException.Kind.CONNECTION, e.kind());
        assertTrue(e.getMessage().contains("malformed response status line 'SSH-2.0-OpenSSH_9.2'"), e.getMessage());
        assertTrue(e.getMessage().contains(a.getFilename()) && e.getMessage().contains("http://127.0.0.1:"), e.getMessage());
    }

    @Test
    void endlessResponseHeadIsCut() throws Exception {
        Artifact a = artifact(randomBytes(100, 5));
        StringBuilder head = new StringBuilder("HTTP/1.1 200 OK\r\n");
        for (int i = 0; i < 700; i++) {
            head.append("X-Filler-").append(i).append(": ").append("y".repeat(100)).append("\r\n");
        }
        byte[] response = bytes(head.toString());
        FetchException e = assertThrows(FetchException.class, () -> fetch(serve(response, false), a));
        assertTrue(e.getMessage().contains("response head longer than " + PlainHttpDownload.MAX_HEAD + " bytes"),
                e.getMessage());
    }

    @Test
    void contentRangeBeyondAnyNumberIsRefusedAsAMismatchNamingIt() throws Exception {
        byte[] content = randomBytes(1000, 7);
        Artifact a = artifact(content);
        byte[] cut = concat(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), java.util.Arrays.copyOf(content, 400));
        String absurd = "bytes 99999999999999999999-999/1000";
        byte[] resumed = concat(bytes("HTTP/1.1 206 Partial Content\r\nContent-Range: " + absurd
                + "\r\nContent-Length: 600\r\n\r\n"), java.util.Arrays.copyOfRange(content, 400, 1000));
        URI mirror = serveInTurn(false, cut, resumed);
        ContentStore store = new ContentStore(dir.resolve("store"));
        FetchConfig twoTries = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(30),
                Duration.ofSeconds(10), 2, Duration.ZERO);
        try (Fetcher f = new Fetcher(List.of(mirror), store, twoTries, Sleeper.system())) {
            FetchException e = assertThrows(FetchException.class, () -> f.fetchAll(List.of(a), null));
            assertEquals(FetchException.Kind.HTTP_STATUS, e.kind());
            assertTrue(e.getMessage().contains("HTTP 206 with Content-Range '" + absurd
                    + "' where bytes 400-999/1000 were asked; starting over (2 tries)"), e.getMessage());
        }
        assertTrue(requests.get(1).contains("\r\nRange: bytes=400-\r\n"), requests.get(1));
        try (var tmp = Files.list(store.tmpDir())) {
            assertEquals(0, tmp.count(), "no partial download left");
        }
    }

    @Test
    void redirectLocationIsShownWithControlCharactersEscapedAndCut() throws Exception {
        Artifact a = artifact(randomBytes(100, 8));
        String location = "http://elsewhere.invalid/\u001b[2J" + "a".repeat(1000);
        FetchException e = assertThrows(FetchException.class, () -> fetch(serve(bytes("HTTP/1.1 302 Found\r\nLocation: "
                + location + "\r\nContent-Length: 0\r\n\r\n"), false), a));
        assertEquals(FetchException.Kind.REDIRECT, e.kind());
        assertTrue(e.getMessage().contains("HTTP 302 redirect to http://elsewhere.invalid/\\u001b[2J" + "a".repeat(271)
                + "... refused: redirects are never followed"), e.getMessage());
    }

    @Test
    void malformedChunkSizeIsAConnectionFailure() throws Exception {
        Artifact a = artifact(randomBytes(100, 6));
        byte[] response = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
        FetchException e = assertThrows(FetchException.class, () -> fetch(serve(response, false), a));
        assertEquals(FetchException.Kind.CONNECTION, e.kind());
        assertTrue(e.getMessage().contains("malformed chunk size line 'zz'"), e.getMessage());
    }

    // --- the response head: what a server may send, and what ends it ---

    @Test
    void aMirrorAtAnIpv6LiteralIsReachedWithoutItsBrackets() throws Exception {
        listenOn = InetAddress.getByName("::1");
        byte[] content = randomBytes(1000, 9);
        URI mirror = serve(ok(content), false);
        assertTrue(mirror.toString().startsWith("http://[0:0:0:0:0:0:0:1]:"), mirror.toString());
        assertArrayEquals(content, Files.readAllBytes(fetch(mirror, artifact(content))));
    }

    @Test
    void aTransferEncodingOtherThanChunkedLeavesTheBodyAsItIs() throws Exception {
        byte[] content = randomBytes(1000, 10);
        byte[] response = concat(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: "
                + content.length + "\r\n\r\n"), content);
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(response, false), artifact(content))));
    }

    @Test
    void aStatusLineWithoutReasonPhraseBareLineFeedsAndANulInAHeaderAreAccepted() throws Exception {
        byte[] content = randomBytes(1000, 11);
        byte[] response = concat(bytes("HTTP/1.1 200\nX-Odd: a\u0000b\nContent-Length: " + content.length + "\n\n"),
                content);
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(response, false), artifact(content))));
    }

    @Test
    void aHeadOfExactlyTheLimitIsAcceptedOneByteMoreIsNot() throws Exception {
        byte[] content = randomBytes(100, 12);
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(concat(headOf(PlainHttpDownload.MAX_HEAD, content),
                content), false), artifact(content))));
        stop();
        byte[] other = randomBytes(100, 16);   // not in the store yet
        FetchException e = assertThrows(FetchException.class, () -> fetch(serve(concat(
                headOf(PlainHttpDownload.MAX_HEAD + 1, other), other), false), artifact(other)));
        assertTrue(e.getMessage().contains("response head longer than " + PlainHttpDownload.MAX_HEAD), e.getMessage());
    }

    @Test
    void statusZeroIsAnHttpStatusNotAStatusLineReadTwice() throws Exception {
        Artifact a = artifact(randomBytes(100, 13));
        FetchException e = assertThrows(FetchException.class,
                () -> fetch(serve(bytes("HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n"), false), a));
        assertEquals(FetchException.Kind.HTTP_STATUS, e.kind());
        assertEquals(0, e.httpStatus());
    }

    @Test
    void aMalformedStatusLineIsShownWholeUpToEightyCharacters() throws Exception {
        Artifact a = artifact(randomBytes(100, 14));
        String eighty = "X".repeat(80);
        FetchException whole = assertThrows(FetchException.class,
                () -> fetch(serve(bytes(eighty + "\r\n\r\n"), false), a));
        assertTrue(whole.getMessage().contains("malformed response status line '" + eighty + "'"), whole.getMessage());
        stop();
        FetchException cut = assertThrows(FetchException.class,
                () -> fetch(serve(bytes(eighty + "Y\r\n\r\n"), false), a));
        assertTrue(cut.getMessage().contains("malformed response status line '" + eighty + "...'"), cut.getMessage());
    }

    @Test
    void aConnectionClosedOrResetBeforeTheHeadIsALostConnectionNamingWhere() throws Exception {
        Artifact a = artifact(randomBytes(100, 15));
        FetchException closed = assertThrows(FetchException.class, () -> fetch(serve(new byte[0], false), a));
        assertEquals(FetchException.Kind.CONNECTION, closed.kind());
        assertTrue(closed.getMessage().contains("connection closed before a complete response head (0 bytes)"),
                closed.getMessage());
        stop();
        reset = true;
        FetchException lost = assertThrows(FetchException.class,
                () -> fetch(serve(bytes("HTTP/1.1 200 OK\r\nContent-Le"), false), a));
        assertEquals(FetchException.Kind.CONNECTION, lost.kind());
        assertTrue(lost.getMessage().contains("connection lost before the response head: SocketException"),
                lost.getMessage());
    }

    @Test
    void responseHeadBytesCountAsProgressForTheIdleRule() throws Exception {
        // A head of 80 bytes sent one byte per 50 ms (4 s or more in all) against an idle timeout of 2 s: a byte comes
        // 40 times more often than the rule asks, however busy the box, so only a transport that counted body bytes
        // alone would trip. No minimum speed: the idle rule alone is under test.
        headPace = Duration.ofMillis(50);
        byte[] content = randomBytes(100, 17);
        FetchConfig idle = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(2), 1,
                Duration.ZERO, 0);
        byte[] head = headOf(80, content);
        assertArrayEquals(content, Files.readAllBytes(fetch(serve(concat(head, content), false), artifact(content), idle)));
    }

    private String requestedAuthority() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    private static byte[] ok(byte[] content) {
        return concat(bytes("HTTP/1.1 200 OK\r\nContent-Length: " + content.length + "\r\n\r\n"), content);
    }

    /** A 200 head for {@code content} padded with a filler header to exactly {@code length} bytes. */
    private static byte[] headOf(int length, byte[] content) {
        String start = "HTTP/1.1 200 OK\r\nContent-Length: " + content.length + "\r\nX-Pad: ";
        String end = "\r\n\r\n";
        byte[] head = bytes(start + "p".repeat(length - start.length() - end.length()) + end);
        assertEquals(length, head.length);
        return head;
    }
}

package dev.pinfleet.agent.fetch;

import static dev.pinfleet.agent.fetch.FetcherTest.assertContains;
import static dev.pinfleet.agent.testing.FakeMirror.randomBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JDK-client transport (the one https mirrors use) called directly, over plain HTTP on loopback against the
 * fake mirror: the same attempt rules as the plain-socket transport, and how the client's own failures are named.
 */
@Timeout(60)
class HttpDownloadTest {
    /** One attempt with limits no scheduler delay comes near (30 s idle, 60 s for the whole response). */
    private static final FetchConfig CFG = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60),
            Duration.ofSeconds(30), 1, Duration.ZERO);

    @TempDir
    Path dir;
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(CFG.connectTimeout()).build();
    private FakeMirror mirror;
    private PartialFile part;

    @BeforeEach
    void start() throws IOException {
        mirror = FakeMirror.start();
        part = PartialFile.create(dir);
    }

    @AfterEach
    void stop() {
        part.delete();
        mirror.close();
        timer.shutdownNow();
    }

    @Test
    void aWholeDownloadAsksForNoRangeAndSaysItDidNotResume() throws Exception {
        byte[] content = randomBytes(100_000, 1);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content);

        assertFalse(run(CFG, a));

        assertEquals(content.length, part.bytes());
        assertEquals(Hashing.sha256Hex(content), part.finish());
        assertNull(mirror.log(a.getPath()).get(0).range());
    }

    @Test
    void aPartialFileIsContinuedWithARangeAndSaysItResumed() throws Exception {
        byte[] content = randomBytes(100_000, 2);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content);
        part.append(Arrays.copyOf(content, 40_000), 40_000);

        assertTrue(run(CFG, a));

        assertEquals("bytes=40000-", mirror.log(a.getPath()).get(0).range());
        assertEquals(Hashing.sha256Hex(content), part.finish());
    }

    @Test
    void aWrongPrefixAnswered200IsReplacedByTheWholeFile() throws Exception {
        byte[] content = randomBytes(1000, 3);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content, Reply.okIgnoringRange());
        part.append(new byte[400], 400);

        assertFalse(run(CFG, a), "a 200 to a range request starts from byte 0");

        assertEquals(Hashing.sha256Hex(content), part.finish());
    }

    @Test
    void notFoundIsNamedWithItsStatus() {
        Artifact a = artifact(randomBytes(100, 4));
        FetchException e = assertThrows(FetchException.class, () -> run(CFG, a));
        assertEquals(Kind.NOT_FOUND, e.kind());
        assertEquals(404, e.httpStatus());
    }

    @Test
    void aRefusedConnectionNamesHostAndPort() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Artifact a = artifact(randomBytes(100, 5));
        URI url = URI.create("http://127.0.0.1:" + port + "/" + a.getPath());
        FetchException e = assertThrows(FetchException.class,
                () -> new HttpDownload(client, CFG, timer).run(a, url, part, new Batch()));
        assertEquals(Kind.CONNECTION, e.kind());
        assertContains(e.getMessage(), "cannot connect to 127.0.0.1:" + port + ": ConnectException");
    }

    @Test
    void aMirrorSilentForTheIdleTimeoutIsATimeout() {
        Artifact a = artifact(randomBytes(1000, 6));
        mirror.put(a.getPath(), new byte[1000], Reply.hang());
        // 1 s without a byte: the mirror hangs for minutes, so only the idle rule ends the attempt
        FetchConfig idle = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(1), 1,
                Duration.ZERO);
        FetchException e = assertThrows(FetchException.class, () -> run(idle, a));
        assertEquals(Kind.TIMEOUT, e.kind());
        assertContains(e.getMessage(), "timed out: no byte from the mirror for 1 s");
    }

    @Test
    void aCancelledBatchStopsTheAttemptBeforeItsRequest() {
        byte[] content = randomBytes(1000, 7);
        Artifact a = artifact(content);
        mirror.put(a.getPath(), content);
        Batch batch = new Batch();
        batch.cancel("another artifact failed");
        FetchException e = assertThrows(FetchException.class,
                () -> new HttpDownload(client, CFG, timer).run(a, url(a), part, batch));
        assertEquals(Kind.CANCELLED, e.kind());
        assertContains(e.getMessage(), "cancelled: another artifact failed");
    }

    private boolean run(FetchConfig cfg, Artifact a) throws Exception {
        return new HttpDownload(client, cfg, timer).run(a, url(a), part, new Batch());
    }

    private URI url(Artifact a) {
        return URI.create(mirror.baseUri() + a.getPath());
    }

    private static Artifact artifact(byte[] content) {
        return Artifact.newBuilder().setFilename("a-1.0-py3-none-any.whl").setPath("packages/a-1.0-py3-none-any.whl")
                .setSha256(Hashing.sha256Hex(content)).setSize(content.length).build();
    }
}

package dev.pinfleet.agent.fetch;

import static dev.pinfleet.agent.testing.FakeMirror.randomBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.FakeMirror.Reply;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Source;
import dev.pinfleet.testing.LoopbackPorts;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fetcher against misbehaving mirrors on loopback. Timing: downloads that must succeed run under
 * {@link #PATIENT} limits (30 s idle), which no scheduler delay on a busy machine comes near; a limit a test expects
 * to fire is at least one second and the test asserts which rule fired (by the error), never how long it took; the
 * exact windows of the idle, minimum-speed and deadline rules are in {@link WatchdogTest}, on a clock of its own.
 * Back-offs go to a {@link RecordingSleeper}.
 */
@Timeout(60)
class FetcherTest {
    /** For downloads that must succeed: idle 30 s, whole response 60 s, 3 tries, back-off from 100 ms (recorded). */
    private static final FetchConfig PATIENT = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(60),
            Duration.ofSeconds(30), 3, Duration.ofMillis(100));

    @TempDir
    Path dir;
    private ContentStore store;
    private final RecordingSleeper sleeper = new RecordingSleeper();
    private final List<AutoCloseable> toClose = new ArrayList<>();
    /** The mirror of {@link #fetcherOfAHungMirror}. */
    private FakeMirror hungMirror;

    @BeforeEach
    void openStore() throws IOException {
        store = new ContentStore(dir.resolve("store"));
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    @Test
    void parallelFetchOfTwentyArtifacts() throws Exception {
        FakeMirror m = mirror();
        List<Artifact> artifacts = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            byte[] content = randomBytes(50_000 + i, i);
            Artifact a = artifact("pkg" + i + "-1.0-py3-none-any.whl", content);
            m.put(a.getPath(), content, Reply.overlapping(2));
            artifacts.add(a);
        }
        List<FetchResult> seen = new CopyOnWriteArrayList<>();

        List<FetchResult> results = fetcher(PATIENT, m).fetchAll(artifacts, seen::add);

        assertEquals(20, results.size());
        assertEquals(20, seen.size());
        for (int i = 0; i < 20; i++) {
            Artifact a = artifacts.get(i);
            FetchResult r = results.get(i);
            assertEquals(a.getFilename(), r.filename(), "results in manifest order");
            assertEquals(Source.MIRROR, r.source());
            assertEquals(a.getSha256(), r.sha256());
            assertEquals(a.getSize(), r.bytes());
            assertEquals(1, r.tries());
            assertEquals(m.baseUri() + a.getPath(), r.url());
            assertEquals(a.getSha256(), Hashing.sha256Hex(store.path(a.getSha256())));
        }
        assertTrue(m.maxConcurrent() <= PATIENT.parallelism(), "at most parallelism at once: " + m.maxConcurrent());
        assertTrue(m.maxConcurrent() > 1, "downloads overlap: " + m.maxConcurrent());
        assertTmpEmpty();
    }

    @Test
    void storeHitIsNotFetchedAgain() throws Exception {
        byte[] content = randomBytes(10_000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        try (FakeMirror first = FakeMirror.start()) {
            first.put(a.getPath(), content);
            try (Fetcher f = new Fetcher(List.of(first.baseUri()), store, PATIENT, sleeper)) {
                f.fetchAll(List.of(a), null);
            }
        }
        FakeMirror m = mirror();
        m.put(a.getPath(), content);

        FetchResult r = fetcher(PATIENT, m).fetchAll(List.of(a), null).get(0);

        assertEquals(0, m.requests());
        assertEquals(Source.STORE, r.source());
        assertEquals("", r.url());
        assertEquals(0, r.tries());
        assertEquals(a.getSha256(), r.sha256());
    }

    @Test
    void checksumMismatchIsRefusedAndNothingIsLeft() throws Exception {
        byte[] content = randomBytes(4096, 1);
        byte[] evil = randomBytes(4096, 2);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.bytes(evil));

        FetchException e = assertThrows(FetchException.class, () -> fetcher(PATIENT, m).fetchAll(List.of(a), null));

        assertEquals(Kind.CHECKSUM, e.kind());
        assertFalse(e.retryable());
        String url = m.baseUri() + a.getPath();
        assertEquals(url, e.url());
        assertContains(e.getMessage(), a.getFilename(), url, "expected sha256 " + a.getSha256(),
                "got " + Hashing.sha256Hex(evil));
        assertEquals(1, m.requests(), "the same mirror is never asked again for bytes that did not match");
        assertTrue(sleeper.sleeps.isEmpty());
        assertStoreEmpty();
    }

    @Test
    void endlessBodyIsCutAtSizePlusOne() throws Exception {
        byte[] content = randomBytes(1000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.endless());

        FetchException e = assertThrows(FetchException.class, () -> fetcher(PATIENT, m).fetchAll(List.of(a), null));

        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), a.getFilename(), m.baseUri() + a.getPath(), "more than the expected 1000 bytes",
                "cut after 1001");
        assertEquals(1, m.requests());
        assertStoreEmpty();
    }

    @Test
    void extraBytesAnnouncedByContentLengthAreRefused() throws Exception {
        byte[] content = randomBytes(1000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.bytes(Arrays.copyOf(content, 1500)));

        FetchException e = assertThrows(FetchException.class, () -> fetcher(PATIENT, m).fetchAll(List.of(a), null));

        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), "announced 1500 bytes", "expected 1000 bytes");
        assertStoreEmpty();
    }

    @Test
    void shortBodyIsRefused() throws Exception {
        byte[] content = randomBytes(1000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.truncated(600));

        FetchException e = assertThrows(FetchException.class, () -> fetcher(PATIENT, m).fetchAll(List.of(a), null));

        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), a.getFilename(), "ended after 600 bytes where 1000 were expected");
        assertEquals(1, m.requests());
        assertStoreEmpty();
    }

    @Test
    void notFoundAndTimeoutAreToldApart() throws Exception {
        byte[] content = randomBytes(1000, 1);
        Artifact missing = artifact("missing-1.0-py3-none-any.whl", content);
        Artifact hung = artifact("hung-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(hung.getPath(), content, Reply.hang());
        Fetcher f = fetcher(idleAfter(Duration.ofSeconds(1), 2), m);

        FetchException notFound = assertThrows(FetchException.class, () -> f.fetchAll(List.of(missing), null));
        FetchException timeout = assertThrows(FetchException.class, () -> f.fetchAll(List.of(hung), null));

        assertEquals(Kind.NOT_FOUND, notFound.kind());
        assertEquals(404, notFound.httpStatus());
        assertContains(notFound.getMessage(), "HTTP 404", "not found", missing.getFilename());
        assertEquals(1, m.requests(missing.getPath()), "404 is not retried on the same mirror");
        assertEquals(Kind.TIMEOUT, timeout.kind());
        assertContains(timeout.getMessage(), "timed out", "no byte from the mirror for 1 s", hung.getFilename());
        assertEquals(2, m.requests(hung.getPath()), "timeouts are retried");
    }

    @Test
    void serverErrorsAreRetriedWithBackoffThenOk() throws Exception {
        byte[] content = randomBytes(5000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.status(500), Reply.status(503), Reply.ok());

        FetchResult r = fetcher(PATIENT, m).fetchAll(List.of(a), null).get(0);

        assertEquals(3, r.tries());
        assertEquals(Source.MIRROR, r.source());
        assertEquals(3, m.requests());
        assertEquals(2, sleeper.sleeps.size());
        assertBetween(sleeper.sleeps.get(0), Duration.ofMillis(50), Duration.ofMillis(100));
        assertBetween(sleeper.sleeps.get(1), Duration.ofMillis(100), Duration.ofMillis(200));
        assertArrayEquals(content, Files.readAllBytes(store.path(a.getSha256())));
    }

    @Test
    void failoverToSecondMirrorAfterNotFound() throws Exception {
        byte[] content = randomBytes(5000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror first = mirror();
        FakeMirror second = mirror();
        second.put(a.getPath(), content);

        FetchResult r = fetcher(PATIENT, first, second).fetchAll(List.of(a), null).get(0);

        assertEquals(second.baseUri() + a.getPath(), r.url());
        assertEquals(2, r.tries());
        assertEquals(1, first.requests());
        assertTrue(sleeper.sleeps.isEmpty(), "failover does not wait");
    }

    @Test
    void failoverToSecondMirrorAfterWrongBytes() throws Exception {
        byte[] content = randomBytes(5000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror first = mirror();
        first.put(a.getPath(), content, Reply.bytes(randomBytes(5000, 666)));
        FakeMirror second = mirror();
        second.put(a.getPath(), content);

        FetchResult r = fetcher(PATIENT, first, second).fetchAll(List.of(a), null).get(0);

        assertEquals(second.baseUri() + a.getPath(), r.url());
        assertEquals(2, r.tries());
        assertEquals(1, first.requests(), "a mirror that served wrong bytes is not asked again");
        assertArrayEquals(content, Files.readAllBytes(store.path(a.getSha256())));
        assertTmpEmpty();
    }

    @Test
    void failuresOnEveryMirrorAreSummarised() throws Exception {
        byte[] content = randomBytes(100, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror first = mirror();
        FakeMirror second = mirror();
        second.put(a.getPath(), content, Reply.status(502));

        FetchException e = assertThrows(FetchException.class,
                () -> fetcher(PATIENT, first, second).fetchAll(List.of(a), null));

        assertEquals(Kind.HTTP_STATUS, e.kind(), "kind of the last attempt");
        assertEquals(502, e.httpStatus());
        assertTrue(e.retryable());
        assertEquals(second.baseUri() + a.getPath(), e.url());
        assertContains(e.getMessage(), "cannot fetch " + a.getFilename(), "any of 2 mirrors", "in 4 tries",
                first.baseUri() + a.getPath() + ": HTTP 404: not found on this mirror (1 try)",
                second.baseUri() + a.getPath() + ": HTTP 502 (3 tries)");
    }

    @Test
    void resetMidBodyIsResumedWithRange() throws Exception {
        byte[] content = randomBytes(200_000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.resetAfter(120_000), Reply.ok());

        FetchResult r = fetcher(PATIENT, m).fetchAll(List.of(a), null).get(0);

        List<FakeMirror.Recorded> log = m.log(a.getPath());
        assertEquals(2, log.size());
        assertNull(log.get(0).range());
        assertEquals("bytes=120000-", log.get(1).range());
        assertTrue(r.resumed());
        assertEquals(2, r.tries());
        assertEquals(1, sleeper.sleeps.size());
        assertArrayEquals(content, Files.readAllBytes(store.path(a.getSha256())));
        assertTmpEmpty();
    }

    @Test
    void serverWithoutRangeSupportStartsOver() throws Exception {
        byte[] content = randomBytes(200_000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.resetAfter(120_000), Reply.okIgnoringRange());

        FetchResult r = fetcher(PATIENT, m).fetchAll(List.of(a), null).get(0);

        assertEquals("bytes=120000-", m.log(a.getPath()).get(1).range());
        assertFalse(r.resumed());
        assertEquals(2, r.tries());
        assertArrayEquals(content, Files.readAllBytes(store.path(a.getSha256())));
        assertTmpEmpty();
    }

    @Test
    void redirectIsRefused() throws Exception {
        byte[] content = randomBytes(100, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror elsewhere = mirror();
        elsewhere.put(a.getPath(), content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.redirect(302, elsewhere.baseUri() + a.getPath()));

        FetchException e = assertThrows(FetchException.class, () -> fetcher(PATIENT, m).fetchAll(List.of(a), null));

        assertEquals(Kind.REDIRECT, e.kind());
        assertContains(e.getMessage(), "HTTP 302 redirect to " + elsewhere.baseUri() + a.getPath(), "refused");
        assertEquals(1, m.requests());
        assertEquals(0, elsewhere.requests(), "the redirect target is never contacted");
        assertStoreEmpty();
    }

    @Test
    void hungMirrorHitsDeadline() throws Exception {
        byte[] content = randomBytes(1000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.hang());
        FetchConfig once = idleAfter(Duration.ofSeconds(1), 1);

        FetchException e = assertThrows(FetchException.class, () -> fetcher(once, m).fetchAll(List.of(a), null));

        assertEquals(Kind.TIMEOUT, e.kind());
        assertTrue(e.retryable());
        assertContains(e.getMessage(), "no byte from the mirror for 1 s", "(0 of 1000 bytes received)");
        assertEquals(1, m.requests());
        assertStoreEmpty();
    }

    @Test
    void stalledBodyHitsIdleDeadlineAndIsResumed() throws Exception {
        byte[] content = randomBytes(100_000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.stallAfter(40_000), Reply.ok());
        // The stall must trip the idle rule, the second answer must not: 2 s without a byte is far beyond any pause
        // of a loopback download of 60 KB, however busy the machine.
        FetchResult r = fetcher(idleAfter(Duration.ofSeconds(2), 3), m).fetchAll(List.of(a), null).get(0);

        assertEquals("bytes=40000-", m.log(a.getPath()).get(1).range());
        assertTrue(r.resumed());
        assertEquals(2, r.tries());
        assertArrayEquals(content, Files.readAllBytes(store.path(a.getSha256())));
    }

    @Test
    void tricklingMirrorHitsRequestDeadline() throws Exception {
        byte[] content = randomBytes(100, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        // 100 bytes at one per 50 ms take at least 5 s, so the 2 s deadline always comes first; bytes keep coming, so
        // the 30 s idle rule never fires; no minimum speed: only the deadline can stop it.
        m.put(a.getPath(), content, Reply.trickle(Duration.ofMillis(50)));
        FetchConfig cfg = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofSeconds(30), 1,
                Duration.ofMillis(100), 0);

        FetchException e = assertThrows(FetchException.class, () -> fetcher(cfg, m).fetchAll(List.of(a), null));

        assertEquals(Kind.TIMEOUT, e.kind());
        assertContains(e.getMessage(), "not complete within the request timeout of 2 s", "of 100 bytes received");
        assertStoreEmpty();
    }

    @Test
    void tricklingMirrorIsAbandonedBelowTheMinimumSpeed() throws Exception {
        byte[] content = randomBytes(100_000, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        // at most 50 bytes/s (one per 20 ms, less when the machine is busy) against a floor of 1000 bytes/s over 1 s
        // windows: the speed rule fires in the first window of each try, long before the 60 s deadline
        m.put(a.getPath(), content, Reply.trickle(Duration.ofMillis(20)));
        FetchConfig cfg = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(1), 2,
                Duration.ofMillis(10), 1000);

        FetchException e = assertThrows(FetchException.class, () -> fetcher(cfg, m).fetchAll(List.of(a), null));

        assertEquals(Kind.TIMEOUT, e.kind());
        assertTrue(e.retryable());
        assertContains(e.getMessage(), a.getFilename(), m.baseUri() + a.getPath(), "too slow: ",
                "below the minimum speed of 1000 bytes/s", "of 100000 bytes received", "(2 tries)");
        assertFalse(e.getMessage().contains("request timeout"), "the speed rule, not the deadline: " + e.getMessage());
        assertEquals(2, m.requests(), "a slow mirror is retried like a timed-out one");
        assertStoreEmpty();
    }

    @Test
    void mirrorAtTheMinimumSpeedIsNotAbandoned() throws Exception {
        // One byte per 10 ms (100 bytes/s; fewer when the machine is busy) for at least 3 s, against a floor of
        // 10 bytes/s over windows of 2 s: a tenfold margin on the speed, and a gap of 2 s between two bytes would be
        // needed to trip the idle rule. Every body byte must count as progress, or the first window would trip.
        // The exact boundary (at the floor passes, one byte short trips) is WatchdogTest's, on a clock of its own.
        byte[] content = randomBytes(300, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.trickle(Duration.ofMillis(10)));
        FetchConfig cfg = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(2), 1,
                Duration.ofMillis(10), 10);

        FetchResult r = fetcher(cfg, m).fetchAll(List.of(a), null).get(0);

        assertEquals(1, r.tries(), "a slow mirror above the floor, over more than one window, is not abandoned");
        assertArrayEquals(content, Files.readAllBytes(store.path(a.getSha256())));
    }

    @Test
    void connectionRefusedIsRetriedThenReported() throws Exception {
        Socket refusing = track(LoopbackPorts.refusing());
        int port = refusing.getLocalPort();
        byte[] content = randomBytes(100, 1);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        Fetcher f = track(new Fetcher(List.of(URI.create("http://127.0.0.1:" + port)), store, PATIENT, sleeper));

        FetchException e = assertThrows(FetchException.class, () -> f.fetchAll(List.of(a), null));

        assertEquals(Kind.CONNECTION, e.kind());
        assertContains(e.getMessage(), "http://127.0.0.1:" + port + "/" + a.getPath(), "cannot connect to 127.0.0.1:" + port, "3 tries");
        assertEquals(2, sleeper.sleeps.size());
        assertStoreEmpty();
    }

    @Test
    void firstFailureCancelsTheRestAndRemovesTheirTempFiles() throws Exception {
        FakeMirror m = mirror();
        List<Artifact> artifacts = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            byte[] content = randomBytes(100_000, i);
            Artifact a = artifact("slow" + i + "-1.0-py3-none-any.whl", content);
            m.put(a.getPath(), content, Reply.stallAfter(30_000));
            artifacts.add(a);
        }
        Artifact missing = artifact("missing-1.0-py3-none-any.whl", randomBytes(10, 9));
        m.put(missing.getPath(), new byte[0], Reply.delayed(Duration.ofMillis(200)), Reply.status(404));
        artifacts.add(missing);
        // The stalled downloads would end only by the idle timeout of 300 s: the test's own limit of 60 s fails it
        // unless the first failure cancelled them.
        FetchConfig patient = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(600),
                Duration.ofSeconds(300), 1, Duration.ofMillis(100));
        List<FetchResult> seen = new CopyOnWriteArrayList<>();

        FetchException e = assertThrows(FetchException.class, () -> fetcher(patient, m).fetchAll(artifacts, seen::add));

        assertEquals(missing.getFilename(), e.filename());
        assertTrue(seen.isEmpty());
        assertStoreEmpty();
    }

    @Test
    void sameSha256TwiceIsFetchedOnce() throws Exception {
        byte[] content = randomBytes(3000, 1);
        Artifact a = artifact("a-1.0.tar.gz", content);
        Artifact b = artifact("b-1.0.tar.gz", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content);
        m.put(b.getPath(), content);

        List<FetchResult> seen = new CopyOnWriteArrayList<>();

        List<FetchResult> results = fetcher(PATIENT, m).fetchAll(List.of(a, b), seen::add);

        assertEquals(1, m.requests());
        assertEquals(Source.MIRROR, results.get(0).source());
        assertEquals(Source.STORE, results.get(1).source());
        assertEquals("b-1.0.tar.gz", results.get(1).filename());
        assertTrue(store.contains(a.getSha256(), 3000));
        assertEquals(Set.copyOf(results), Set.copyOf(seen), "the duplicate is reported as it finishes too");
        assertEquals(2, seen.size());
    }

    @Test
    void pathIsPercentEncodedAndKeptUnderTheBasePath() throws Exception {
        byte[] content = randomBytes(300, 1);
        Artifact a = artifact("pkg-1.0+local-py3-none-any.whl", content).toBuilder()
                .setPath("packages/pkg/pkg-1.0+local-py3-none-any.whl").build();
        FakeMirror m = mirror();
        m.put("simple-root/" + a.getPath(), content);
        URI base = URI.create(m.baseUri() + "simple-root");
        Fetcher f = track(new Fetcher(List.of(base), store, PATIENT, sleeper));
        assertEquals(List.of(URI.create(m.baseUri() + "simple-root/")), f.mirrors(), "the base URL ends with '/'");

        FetchResult r = f.fetchAll(List.of(a), null).get(0);

        assertEquals(m.baseUri() + "simple-root/packages/pkg/pkg-1.0%2Blocal-py3-none-any.whl", r.url());
        assertEquals(1, m.requests("simple-root/" + a.getPath()));
    }

    @Test
    void emptyArtifactIsFetched() throws Exception {
        Artifact a = artifact("empty-file.txt", new byte[0]).toBuilder().setKind(ArtifactKind.FILE)
                .setInstallPath("etc/empty.txt").build();
        FakeMirror m = mirror();
        m.put(a.getPath(), new byte[0]);

        FetchResult r = fetcher(PATIENT, m).fetchAll(List.of(a), null).get(0);

        assertEquals(0, r.bytes());
        assertTrue(store.contains(Hashing.sha256Hex(new byte[0]), 0));
    }

    @Test
    void theLargestArtifactsStartFirst() throws Exception {
        FakeMirror m = mirror();
        List<Artifact> artifacts = new ArrayList<>();
        for (int size : new int[] {1000, 30_000, 5000}) {
            byte[] content = randomBytes(size, size);
            Artifact a = artifact("s" + size + "-1.0-py3-none-any.whl", content);
            m.put(a.getPath(), content);
            artifacts.add(a);
        }
        FetchConfig oneAtATime = new FetchConfig(1, PATIENT.connectTimeout(), PATIENT.requestTimeout(),
                PATIENT.idleTimeout(), PATIENT.maxTries(), PATIENT.backoffBase());
        List<String> order = new CopyOnWriteArrayList<>();

        List<FetchResult> results = fetcher(oneAtATime, m).fetchAll(artifacts, r -> order.add(r.filename()));

        assertEquals(List.of("s30000-1.0-py3-none-any.whl", "s5000-1.0-py3-none-any.whl", "s1000-1.0-py3-none-any.whl"),
                order, "one download at a time, largest first");
        assertEquals(artifacts.stream().map(Artifact::getFilename).toList(),
                results.stream().map(FetchResult::filename).toList(), "results in the order given");
    }

    @Test
    void onlyWhatWasDownloadedIsHandedToTheCommitListener() throws Exception {
        byte[] had = randomBytes(2000, 1);
        byte[] fresh = randomBytes(3000, 2);
        Artifact inStore = artifact("had-1.0-py3-none-any.whl", had);
        Artifact downloaded = artifact("fresh-1.0-py3-none-any.whl", fresh);
        FakeMirror m = mirror();
        m.put(inStore.getPath(), had);
        m.put(downloaded.getPath(), fresh);
        Fetcher f = fetcher(PATIENT, m);
        f.fetchAll(List.of(inStore), null);
        List<String> committed = new CopyOnWriteArrayList<>();
        f.onCommitted((a, path) -> committed.add(a.getFilename() + " " + path.equals(store.path(a.getSha256()))));

        f.fetchAll(List.of(inStore, downloaded), null);

        assertEquals(List.of("fresh-1.0-py3-none-any.whl true"), committed);
    }

    @Test
    void closingTheFetcherCancelsADownloadInFlightAndRefusesNewOnes() throws Exception {
        Artifact a = artifact("hung-1.0-py3-none-any.whl", randomBytes(1000, 3));
        Fetcher f = fetcherOfAHungMirror(a);
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        fetchInFlight(f, a, outcome);

        f.close();

        FetchException e = assertInstanceOf(FetchException.class, outcome.get(50, TimeUnit.SECONDS));
        assertEquals(Kind.CANCELLED, e.kind());
        assertContains(e.getMessage(), "cancelled: the fetcher was closed");
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> f.fetchAll(List.of(a), null));
        assertEquals("the fetcher is closed", closed.getMessage());
    }

    @Test
    void anInterruptedFetchCancelsItsDownloadsAndWaitsForThemBeforeItThrows() throws Exception {
        Artifact a = artifact("hung-1.0-py3-none-any.whl", randomBytes(1000, 4));
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread deploy = fetchInFlight(fetcherOfAHungMirror(a), a, outcome);

        deploy.interrupt();

        assertInstanceOf(InterruptedException.class, outcome.get(50, TimeUnit.SECONDS));
    }

    @Test
    void closingTheFetcherWakesADownloadWaitingOutItsBackOff() throws Exception {
        Artifact a = artifact("busy-1.0-py3-none-any.whl", randomBytes(1000, 5));
        FakeMirror m = mirror();
        m.put(a.getPath(), new byte[1000], Reply.status(503));
        CountDownLatch waiting = new CountDownLatch(1);
        Sleeper real = d -> {
            waiting.countDown();
            Sleeper.system().sleep(d);
        };
        // back-offs of 5 to 10 minutes on the real clock: only the cancel's interrupt ends the wait within the test's
        // own limit of 60 s
        FetchConfig cfg = new FetchConfig(2, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(30), 3,
                Duration.ofMinutes(10));
        Fetcher f = track(new Fetcher(List.of(m.baseUri()), store, cfg, real));
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        startFetch(f, a, outcome);
        assertTrue(waiting.await(40, TimeUnit.SECONDS), "the download waits out a back-off after the 503");

        f.close();

        FetchException e = assertInstanceOf(FetchException.class, outcome.get(50, TimeUnit.SECONDS));
        assertEquals(Kind.CANCELLED, e.kind());
        assertEquals(m.baseUri() + a.getPath(), e.url());
        assertContains(e.getMessage(), "cancelled: the fetcher was closed");
        assertEquals(1, m.requests(), "not asked again after the cancel");
    }

    @Test
    void aCallbackThatThrowsEndsTheFetchWithItsOwnExceptionAndKeepsWhatWasCommitted() throws Exception {
        byte[] first = randomBytes(1000, 6);
        byte[] second = randomBytes(1000, 7);
        Artifact a = artifact("a-1.0-py3-none-any.whl", first);
        Artifact b = artifact("b-1.0-py3-none-any.whl", second);
        FakeMirror m = mirror();
        m.put(a.getPath(), first);
        m.put(b.getPath(), second);
        Fetcher f = fetcher(PATIENT, m);
        IllegalArgumentException refused = new IllegalArgumentException("the report stream is closed");
        Error broken = new Error("the callback broke");

        assertSame(refused, assertThrows(IllegalArgumentException.class, () -> f.fetchAll(List.of(a), r -> {
            throw refused;
        })));
        assertSame(broken, assertThrows(Error.class, () -> f.fetchAll(List.of(b), r -> {
            throw broken;
        })));

        assertTrue(store.contains(a.getSha256(), a.getSize()), "verified bytes stay in the store");
        assertTrue(store.contains(b.getSha256(), b.getSize()));
        assertTmpEmpty();
    }

    @Test
    void backOffsAreJitteredSoAFleetDoesNotRetryInLockstep() throws Exception {
        byte[] content = randomBytes(1000, 8);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.status(503), Reply.status(503), Reply.status(503), Reply.status(503),
                Reply.status(503), Reply.ok());
        FetchConfig six = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(30), 6,
                Duration.ofSeconds(1));

        FetchResult r = fetcher(six, m).fetchAll(List.of(a), null).get(0);

        assertEquals(6, r.tries());
        assertEquals(5, sleeper.sleeps.size());
        boolean jittered = false;
        for (int i = 0; i < 5; i++) {
            Duration ceiling = six.backoff(i + 1);
            assertBetween(sleeper.sleeps.get(i), ceiling.dividedBy(2), ceiling);
            jittered |= !sleeper.sleeps.get(i).equals(ceiling);
        }
        // each wait is drawn from half a billion nanosecond values or more: five all at the ceiling do not happen
        assertTrue(jittered, "every wait was the whole back-off: " + sleeper.sleeps);
    }

    @Test
    void theShortestBackOffTheConfigurationAcceptsIsWaitedAsAsked() throws Exception {
        byte[] content = randomBytes(1000, 9);
        Artifact a = artifact("a-1.0-py3-none-any.whl", content);
        FakeMirror m = mirror();
        m.put(a.getPath(), content, Reply.status(503), Reply.status(503), Reply.ok());
        FetchConfig nanos = new FetchConfig(4, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(30), 3,
                Duration.ofNanos(1));

        FetchResult r = fetcher(nanos, m).fetchAll(List.of(a), null).get(0);

        assertEquals(3, r.tries());
        assertEquals(Duration.ofNanos(1), sleeper.sleeps.get(0));
        assertBetween(sleeper.sleeps.get(1), Duration.ofNanos(1), Duration.ofNanos(2));
    }

    @Test
    void anHttpsMirrorIsSpokenToInTlsNeverInPlainText() throws Exception {
        // A loopback server that is no TLS server: it reads what a client sends first and hangs up. No certificate
        // is needed to see which protocol the fetcher speaks to an https:// mirror.
        ServerSocket server = track(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        CompletableFuture<byte[]> firstBytes = new CompletableFuture<>();
        Thread serving = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    s.setSoTimeout(30_000);
                    firstBytes.complete(s.getInputStream().readNBytes(2));
                } catch (IOException e) {
                    firstBytes.completeExceptionally(e);
                }
            }
        }, "not-tls");
        serving.setDaemon(true);
        serving.start();
        Artifact a = artifact("a-1.0-py3-none-any.whl", randomBytes(100, 10));
        URI mirror = URI.create("https://127.0.0.1:" + server.getLocalPort() + "/");
        FetchConfig once = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60), Duration.ofSeconds(30), 1,
                Duration.ZERO);
        Fetcher f = track(new Fetcher(List.of(mirror), store, once, sleeper));

        FetchException e = assertThrows(FetchException.class, () -> f.fetchAll(List.of(a), null));

        assertArrayEquals(new byte[] {0x16, 0x03}, firstBytes.get(30, TimeUnit.SECONDS), "a TLS handshake record, not 'GE'");
        assertEquals(Kind.CONNECTION, e.kind());
        assertContains(e.getMessage(), mirror + a.getPath(), "request failed: ");
        assertStoreEmpty();
    }

    /**
     * A fetcher whose one mirror never answers {@code a}: only a cancel ends its download before the idle timeout of
     * 300 s, so a test that waits for the end fails by its own limit of 60 s unless the cancel came.
     */
    private Fetcher fetcherOfAHungMirror(Artifact a) throws IOException {
        FakeMirror m = mirror();
        hungMirror = m;
        m.put(a.getPath(), new byte[(int) a.getSize()], Reply.hang());
        return fetcher(new FetchConfig(2, Duration.ofSeconds(10), Duration.ofSeconds(600), Duration.ofSeconds(300), 1,
                Duration.ZERO), m);
    }

    /**
     * Runs {@code f.fetchAll([a])} on a thread of its own and returns once the request reached the mirror (polled,
     * at most 40 s). {@code outcome} gets what fetchAll threw, or an assertion error when a temp file was still there
     * as it threw (a fetch must wait for its cancelled downloads).
     */
    private Thread fetchInFlight(Fetcher f, Artifact a, CompletableFuture<Throwable> outcome) throws Exception {
        Thread t = startFetch(f, a, outcome);
        FakeMirror m = hungMirror;
        for (int i = 0; i < 400 && m.requests(a.getPath()) == 0; i++) {
            Thread.sleep(100);
        }
        assertEquals(1, m.requests(a.getPath()), "the request reached the mirror");
        return t;
    }

    /**
     * Runs {@code f.fetchAll([a])} on a thread of its own; {@code outcome} gets what fetchAll threw, or an assertion
     * error when it returned or a temp file was still there as it threw.
     */
    private Thread startFetch(Fetcher f, Artifact a, CompletableFuture<Throwable> outcome) {
        Thread t = new Thread(() -> {
            try {
                f.fetchAll(List.of(a), null);
                outcome.complete(new AssertionError("fetchAll returned"));
            } catch (Throwable thrown) {
                try {
                    assertTmpEmpty();
                    outcome.complete(thrown);
                } catch (Throwable left) {
                    outcome.complete(left);
                }
            }
        }, "fetch-all");
        t.start();
        return t;
    }

    // --- helpers

    private FakeMirror mirror() throws IOException {
        return track(FakeMirror.start());
    }

    private Fetcher fetcher(FetchConfig cfg, FakeMirror... mirrors) {
        List<URI> bases = Stream.of(mirrors).map(FakeMirror::baseUri).toList();
        return track(new Fetcher(bases, store, cfg, sleeper));
    }

    private <T extends AutoCloseable> T track(T c) {
        toClose.add(c);
        return c;
    }

    /** For a mirror that is meant to hang: abandoned after {@code idle} without a byte, {@code tries} times. */
    private static FetchConfig idleAfter(Duration idle, int tries) {
        return new FetchConfig(PATIENT.parallelism(), PATIENT.connectTimeout(), PATIENT.requestTimeout(), idle, tries,
                PATIENT.backoffBase());
    }

    private static Artifact artifact(String filename, byte[] content) {
        return Artifact.newBuilder()
                .setName(filename.substring(0, filename.indexOf('-')))
                .setVersion("1.0")
                .setFilename(filename)
                .setPath("packages/" + filename)
                .setSha256(Hashing.sha256Hex(content))
                .setSize(content.length)
                .setKind(ArtifactKind.WHEEL)
                .build();
    }

    private void assertTmpEmpty() throws IOException {
        try (Stream<Path> s = Files.list(store.tmpDir())) {
            assertEquals(List.of(), s.toList(), "no temp file left");
        }
    }

    private void assertStoreEmpty() throws IOException {
        assertTmpEmpty();
        try (Stream<Path> s = Files.walk(store.root().resolve("sha256"))) {
            assertEquals(List.of(), s.filter(Files::isRegularFile).toList(), "nothing committed");
        }
    }

    /** Fails naming the first of {@code parts} that {@code message} lacks. */
    static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "message lacks '" + p + "': " + message);
        }
    }

    private static void assertBetween(Duration d, Duration min, Duration max) {
        assertTrue(d.compareTo(min) >= 0 && d.compareTo(max) <= 0, d + " not within " + min + ".." + max);
    }
}

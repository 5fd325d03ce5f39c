package dev.pinfleet.agent.fetch;

import static dev.pinfleet.agent.fetch.FetcherTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.proto.v1.Artifact;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rules of one attempt, called directly: which statuses and headers {@link Transfer#acceptStatus} lets through,
 * how many bytes {@link Transfer#copy} reads and what it makes of a body that ends early, late or under a tripped
 * watchdog, and the wording of errors. No socket, no real clock: the watchdog runs on a {@link ManualTimer} that
 * never advances, so only an explicit {@link Watchdog#trip} trips it.
 */
class TransferTest {
    private static final URI URL = URI.create("http://127.0.0.1:1/packages/a-1.0-py3-none-any.whl");
    private static final FetchConfig CFG = new FetchConfig(1, Duration.ofSeconds(10), Duration.ofSeconds(60),
            Duration.ofSeconds(30), 1, Duration.ofMillis(100));

    @TempDir
    Path dir;
    private final ManualTimer timer = new ManualTimer();
    private final Batch batch = new Batch();
    private PartialFile part;
    private Watchdog dog;

    @BeforeEach
    void open() throws IOException {
        part = PartialFile.create(dir);
        dog = new Watchdog(timer, timer, Duration.ofSeconds(30), Duration.ofSeconds(60), 0);
    }

    @AfterEach
    void close() {
        dog.close();
        part.delete();
    }

    // --- acceptStatus ---

    @Test
    void everyThreeHundredStatusIsARefusedRedirectAndFourHundredIsNot() {
        for (int st : new int[] {300, 301, 399}) {
            FetchException e = assertThrows(FetchException.class, () -> accept(st, Map.of("Location", "/x"), 0, 5));
            assertEquals(Kind.REDIRECT, e.kind(), "HTTP " + st);
            assertContains(e.getMessage(), "HTTP " + st + " redirect to /x refused");
        }
        FetchException e = assertThrows(FetchException.class, () -> accept(400, Map.of(), 0, 5));
        assertEquals(Kind.HTTP_STATUS, e.kind());
        assertContains(e.getMessage(), "HTTP 400");
    }

    @Test
    void aContentLengthOfZeroForANonEmptyFileIsRefused() {
        FetchException e = assertThrows(FetchException.class, () -> accept(200, Map.of("Content-Length", "0"), 0, 5));
        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), "mirror announced 0 bytes (Content-Length) where 5 of the expected 5");
    }

    @Test
    void theContentLengthOfA206IsTheRestFromTheOffset() throws Exception {
        assertEquals(2, accept(206, Map.of("Content-Range", "bytes 2-4/5", "Content-Length", "3"), 2, 5));
        FetchException e = assertThrows(FetchException.class,
                () -> accept(206, Map.of("Content-Range", "bytes 2-4/5", "Content-Length", "5"), 2, 5));
        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), "mirror announced 5 bytes (Content-Length) where 3 of the expected 5 bytes were due");
    }

    @Test
    void a206IsAcceptedWithTheExactRangeAskedForAndAKnownOrUnknownTotal() throws Exception {
        assertEquals(2, accept(206, Map.of("Content-Range", "bytes 2-4/5"), 2, 5));
        assertEquals(2, accept(206, Map.of("Content-Range", "bytes 2-4/*"), 2, 5));
    }

    @Test
    void a206WithAnotherRangeOrTotalEmptiesThePartialFileAndSaysSo() throws Exception {
        for (String range : new String[] {"bytes 2-4/6", "bytes 1-4/5", "bytes 2-3/5", "bytes 2-4", "bytes 2-4/x",
                "bytes 99999999999999999999-4/5"}) {
            part.append(new byte[] {1, 2}, 2);
            FetchException e = assertThrows(FetchException.class,
                    () -> accept(206, Map.of("Content-Range", range), 2, 5), range);
            assertEquals(Kind.HTTP_STATUS, e.kind(), range);
            assertTrue(e.retryable(), range);
            assertContains(e.getMessage(), "HTTP 206 with Content-Range '" + range + "' where bytes 2-4/5 were asked");
            assertEquals(0, part.bytes(), "the partial file is emptied to start over after '" + range + "'");
        }
    }

    // --- copy ---

    @Test
    void anEndlessBodyIsReadNoFurtherThanSizePlusOne() {
        long size = 100_000;          // more than one 64 KiB buffer: the second read must ask for the rest only
        CountingZeros body = new CountingZeros();
        FetchException e = assertThrows(FetchException.class, () -> copy(body, size));
        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), "cut after " + (size + 1));
        assertEquals(size + 1, body.read, "bytes taken from the mirror");
    }

    @Test
    void aBodyOfExactlyTheSizeIsCopied() throws Exception {
        copy(new ByteArrayInputStream(new byte[70_000]), 70_000);
        assertEquals(70_000, part.bytes());
    }

    @Test
    void aShortBodyIsASizeErrorWhileTheWatchdogHasNotTripped() {
        FetchException e = assertThrows(FetchException.class, () -> copy(new ByteArrayInputStream(new byte[3]), 5));
        assertEquals(Kind.SIZE, e.kind());
        assertContains(e.getMessage(), "body ended after 3 bytes where 5 were expected");
    }

    @Test
    void aBodyCutShortByATrippedWatchdogIsATimeoutWithTheBytesReceived() {
        dog.trip(Watchdog.Trip.IDLE);   // its abort closed the stream: the body simply ends
        FetchException e = assertThrows(FetchException.class, () -> copy(new ByteArrayInputStream(new byte[3]), 5));
        assertEquals(Kind.TIMEOUT, e.kind());
        assertContains(e.getMessage(), "no byte from the mirror for 30 s (3 of 5 bytes received)");
    }

    @Test
    void aWholeBodyIsKeptEvenWhenTheWatchdogTripsAtItsEnd() throws Exception {
        dog.trip(Watchdog.Trip.IDLE);
        copy(new ByteArrayInputStream(new byte[5]), 5);
        assertEquals(5, part.bytes());
    }

    @Test
    void aReadErrorIsALostConnectionUnlessTheWatchdogTripped() {
        FetchException lost = assertThrows(FetchException.class, () -> copy(failingAfter(0), 5));
        assertEquals(Kind.CONNECTION, lost.kind());
        assertContains(lost.getMessage(), "connection lost after 0 of 5 bytes: IOException: reset");

        dog.trip(Watchdog.Trip.DEADLINE);
        FetchException late = assertThrows(FetchException.class, () -> copy(failingAfter(0), 5));
        assertEquals(Kind.TIMEOUT, late.kind());
        assertContains(late.getMessage(), "not complete within the request timeout of 60 s");
    }

    @Test
    void aPartialFileThatCannotBeWrittenIsALocalFailureNotTheMirrors() throws Exception {
        part.finish();   // its stream is closed: the next write of a whole buffer reaches the closed file and fails
        FetchException e = assertThrows(FetchException.class,
                () -> copy(new ByteArrayInputStream(new byte[100_000]), 100_000));
        assertEquals(Kind.IO, e.kind());
        assertContains(e.getMessage(), "local file system failure writing the download: IOException");
    }

    // --- resumeOffset ---

    @Test
    void onlyAProperPrefixIsResumedAWholeOrLongerFileStartsOver() throws Exception {
        part.append(new byte[3], 3);
        assertEquals(3, Transfer.resumeOffset(artifact(5), URL, part), "3 of 5 bytes: resumed");
        assertEquals(3, part.bytes(), "and kept");
        part.append(new byte[2], 2);
        assertEquals(0, Transfer.resumeOffset(artifact(5), URL, part), "all 5 bytes: nothing to ask a range for");
        assertEquals(0, part.bytes(), "emptied to start over");
        part.append(new byte[6], 6);
        assertEquals(0, Transfer.resumeOffset(artifact(5), URL, part), "6 of 5 bytes");
        assertEquals(0, part.bytes());
    }

    // --- helpers of the messages ---

    @Test
    void describeAddsTheRootCauseOnlyWhenItSaysMore() {
        assertEquals("IOException: boom", Transfer.describe(new IOException("boom")));
        assertEquals("IOException", Transfer.describe(new IOException()));
        assertEquals("IOException: outer (ConnectException: refused)",
                Transfer.describe(new IOException("outer", new IOException("middle", new ConnectException("refused")))));
        assertEquals("IOException: outer", Transfer.describe(new IOException("outer", new EOFException())));
        assertEquals("IOException: outer", Transfer.describe(new IOException("outer", new EOFException(" "))));
        // the JDK's wrapping repeats the cause in its own message: not a second time
        assertEquals("IOException: java.net.ConnectException: refused",
                Transfer.describe(new IOException(new ConnectException("refused"))));
    }

    @Test
    void aTooSlowTripNamesTheBytesAndTheWindowInMilliseconds() {
        Watchdog slow = new Watchdog(timer, timer, Duration.ofSeconds(1), Duration.ofSeconds(60), 1000);
        timer.advance(Duration.ofMillis(500));
        slow.progress(100);
        timer.advance(Duration.ofMillis(500));   // the first 1 s window: 100 bytes where 1,000 were due
        assertEquals(Watchdog.Trip.SLOW, slow.tripped());
        FetchException e = Transfer.tripped(slow, artifact(5), URL, 3, batch, CFG);
        assertEquals(Kind.TIMEOUT, e.kind());
        assertContains(e.getMessage(), "too slow: 100 bytes in 1 s, below the minimum speed of " + CFG.minSpeed()
                + " bytes/s (3 of 5 bytes received)");
    }

    @Test
    void aCancelledTripSaysWhyTheBatchWasCancelledOrThatItWasStopped() {
        dog.trip(Watchdog.Trip.CANCELLED);
        FetchException stopped = Transfer.tripped(dog, artifact(5), URL, 0, batch, CFG);
        assertEquals(Kind.CANCELLED, stopped.kind());
        assertContains(stopped.getMessage(), "cancelled: stopped");
        batch.cancel("b-2.0-py3-none-any.whl failed");
        FetchException why = Transfer.tripped(dog, artifact(5), URL, 0, batch, CFG);
        assertEquals(Kind.CANCELLED, why.kind());
        assertContains(why.getMessage(), "cancelled: b-2.0-py3-none-any.whl failed");
    }

    @Test
    void aMirrorsValueIsShownWholeUpToThreeHundredCharacters() {
        String v = "v".repeat(300);
        assertEquals(v, Transfer.shown(v));
        assertEquals(v + "...", Transfer.shown(v + "w"));
        assertEquals("a\\u001bb", Transfer.shown("a\u001bb"), "control characters escaped");
    }

    @Test
    void closeQuietlyClosesAndSwallowsTheStreamsComplaint() {
        boolean[] closed = {false};
        Transfer.closeQuietly(new InputStream() {
            @Override
            public int read() {
                return -1;
            }

            @Override
            public void close() throws IOException {
                closed[0] = true;
                throw new IOException("already reset");
            }
        });
        assertTrue(closed[0]);
    }

    private long accept(int st, Map<String, String> headers, long offset, long size) throws FetchException {
        Function<String, Optional<String>> header = name -> Optional.ofNullable(headers.get(name));
        return Transfer.acceptStatus(st, header, offset, size, artifact(size), URL, part);
    }

    private void copy(InputStream body, long size) throws FetchException {
        Transfer.copy(body, part, size, dog, artifact(size), URL, batch, CFG);
    }

    private static Artifact artifact(long size) {
        return Artifact.newBuilder().setFilename("a-1.0-py3-none-any.whl").setPath("packages/a-1.0-py3-none-any.whl")
                .setSize(size).build();
    }

    private static InputStream failingAfter(int bytes) {
        return new InputStream() {
            private int left = bytes;

            @Override
            public int read() throws IOException {
                if (left-- > 0) {
                    return 0;
                }
                throw new IOException("reset");
            }
        };
    }

    /** An endless body of zeros that counts the bytes taken from it. */
    private static final class CountingZeros extends InputStream {
        long read;

        @Override
        public int read() {
            read++;
            return 0;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            read += len;
            return len;
        }
    }
}

package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.proto.v1.FailureReason;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a fetch failure tells the operator and the controller: the message (file, URL, reason), whether the same
 * mirror is worth another try, and the typed reason a failed deploy reports, also after every mirror failed.
 */
class FetchExceptionTest {
    private static final String FILE = "a-1.0-py3-none-any.whl";
    private static final String ONE = "http://one.example/packages/" + FILE;
    private static final String TWO = "http://two.example/packages/" + FILE;

    @Test
    void theMessageNamesFileUrlAndReasonOrTheFileAloneWhenNoMirrorWasAsked() {
        assertEquals(FILE + " from " + ONE + ": connection lost after 3 of 5 bytes",
                new FetchException(Kind.CONNECTION, FILE, ONE, "connection lost after 3 of 5 bytes", null).getMessage());
        assertEquals(FILE + ": listed as 5 bytes with sha256 ab, which b.whl lists as 6 bytes",
                new FetchException(Kind.SIZE, FILE, "", "listed as 5 bytes with sha256 ab, which b.whl lists as 6 bytes",
                        null).getMessage());
    }

    @Test
    void statusesAMirrorAnswersWhileUnavailableAreRetriedAndReportedAsUnavailable() {
        for (int st : new int[] {500, 502, 503, 504, 599, 408, 429}) {
            FetchException e = FetchException.status(Kind.HTTP_STATUS, st, FILE, ONE, "HTTP " + st);
            assertTrue(e.retryable(), "HTTP " + st);
            assertEquals(FailureReason.REASON_FETCH_UNAVAILABLE, e.failureReason(), "HTTP " + st);
            assertEquals(st, e.httpStatus());
        }
        for (int st : new int[] {400, 401, 403, 405, 407, 409, 428, 430, 451, 499}) {
            FetchException e = FetchException.status(Kind.HTTP_STATUS, st, FILE, ONE, "HTTP " + st);
            assertFalse(e.retryable(), "HTTP " + st);
            assertEquals(FailureReason.REASON_FETCH_HTTP_STATUS, e.failureReason(), "HTTP " + st);
        }
    }

    @Test
    void notFoundAndRedirectAreNeverRetriedWhateverTheirStatus() {
        assertFalse(FetchException.status(Kind.NOT_FOUND, 404, FILE, ONE, "HTTP 404").retryable());
        assertFalse(FetchException.status(Kind.REDIRECT, 302, FILE, ONE, "HTTP 302").retryable());
    }

    @Test
    void eachKindReportsItsReason() {
        Map<Kind, FailureReason> expected = Map.of(
                Kind.NOT_FOUND, FailureReason.REASON_FETCH_NOT_FOUND,
                Kind.TIMEOUT, FailureReason.REASON_FETCH_TIMEOUT,
                Kind.CONNECTION, FailureReason.REASON_FETCH_UNREACHABLE,
                Kind.HTTP_STATUS, FailureReason.REASON_FETCH_HTTP_STATUS,
                Kind.CHECKSUM, FailureReason.REASON_FETCH_CHECKSUM,
                Kind.SIZE, FailureReason.REASON_FETCH_SIZE,
                Kind.REDIRECT, FailureReason.REASON_FETCH_REDIRECT,
                Kind.IO, FailureReason.REASON_FETCH_LOCAL_IO,
                Kind.CANCELLED, FailureReason.REASON_ABORTED);
        assertEquals(Kind.values().length, expected.size());
        expected.forEach((kind, reason) -> assertEquals(reason,
                new FetchException(kind, FILE, ONE, "why", null).failureReason(), kind.name()));
        for (Kind kind : Kind.values()) {
            assertEquals(kind == Kind.TIMEOUT || kind == Kind.CONNECTION,
                    new FetchException(kind, FILE, ONE, "why", null).retryable(), kind.name());
        }
    }

    @Test
    void afterEveryMirrorTheLastAttemptGivesKindAndUrlAndTheMostTellingFailureGivesTheReason() {
        FetchException wrongBytes = new FetchException(Kind.CHECKSUM, FILE, ONE, "checksum mismatch", null);
        FetchException missing = FetchException.status(Kind.NOT_FOUND, 404, FILE, TWO, "HTTP 404: not found on this mirror");

        FetchException e = FetchException.exhausted(List.of(wrongBytes, missing), "cannot fetch " + FILE,
                List.of(ONE + ": checksum mismatch (1 try)", TWO + ": HTTP 404: not found on this mirror (1 try)"));

        assertEquals(Kind.NOT_FOUND, e.kind());
        assertEquals(TWO, e.url());
        assertEquals(404, e.httpStatus());
        assertFalse(e.retryable());
        assertSame(missing, e.getCause());
        assertEquals("cannot fetch " + FILE + ": " + ONE + ": checksum mismatch (1 try); " + TWO
                + ": HTTP 404: not found on this mirror (1 try)", e.getMessage());
        assertEquals(FailureReason.REASON_FETCH_CHECKSUM, e.failureReason(), "a mirror serving wrong bytes says most");
    }

    @Test
    void theMostTellingFailureGoesWrongBytesThenSizeThenNotFoundThenUnservedThenTheRest() {
        FetchException checksum = new FetchException(Kind.CHECKSUM, FILE, ONE, "checksum mismatch", null);
        FetchException size = new FetchException(Kind.SIZE, FILE, ONE, "body ended early", null);
        FetchException notFound = FetchException.status(Kind.NOT_FOUND, 404, FILE, ONE, "HTTP 404");
        FetchException timeout = new FetchException(Kind.TIMEOUT, FILE, ONE, "timed out", null);
        FetchException unreachable = new FetchException(Kind.CONNECTION, FILE, ONE, "cannot connect", null);
        FetchException unavailable = FetchException.status(Kind.HTTP_STATUS, 503, FILE, ONE, "HTTP 503");
        FetchException redirect = FetchException.status(Kind.REDIRECT, 302, FILE, ONE, "HTTP 302");
        FetchException forbidden = FetchException.status(Kind.HTTP_STATUS, 403, FILE, ONE, "HTTP 403");

        assertEquals(FailureReason.REASON_FETCH_CHECKSUM, telling(size, notFound, checksum, timeout));
        assertEquals(FailureReason.REASON_FETCH_SIZE, telling(timeout, size, notFound));
        assertEquals(FailureReason.REASON_FETCH_NOT_FOUND, telling(unavailable, notFound, redirect));
        assertEquals(FailureReason.REASON_FETCH_TIMEOUT, telling(redirect, timeout, forbidden));
        assertEquals(FailureReason.REASON_FETCH_UNAVAILABLE, telling(forbidden, unavailable));
        assertEquals(FailureReason.REASON_FETCH_REDIRECT, telling(redirect));
        // among failures that say as much, the later mirror's, as for the kind
        assertEquals(FailureReason.REASON_FETCH_UNREACHABLE, telling(timeout, unreachable, redirect));
        assertEquals(FailureReason.REASON_FETCH_TIMEOUT, telling(unreachable, timeout, forbidden));
        assertEquals(FailureReason.REASON_FETCH_HTTP_STATUS, telling(redirect, forbidden));
    }

    private static FailureReason telling(FetchException... lastPerMirror) {
        List<String> lines = List.of(lastPerMirror).stream().map(FetchException::reason).toList();
        return FetchException.exhausted(List.of(lastPerMirror), "cannot fetch " + FILE, lines).failureReason();
    }
}

package dev.pinfleet.agent.fetch;

import dev.pinfleet.proto.v1.FailureReason;
import java.util.List;
import java.util.Objects;

/**
 * Why an artifact could not be fetched. The message names the file, the mirror URL and the reason; the
 * exception {@link Fetcher#fetchAll} throws summarises the last attempt on every mirror, and its
 * {@link #kind()}, {@link #url()} and {@link #retryable()} are those of the very last attempt.
 */
public final class FetchException extends Exception {

    /** What went wrong. */
    public enum Kind {
        /** The mirror answered 404 or 410: the file is not there. Moves on to the next mirror. */
        NOT_FOUND,
        /**
         * No connection, no byte for the idle timeout, slower than the minimum speed over a window, or the
         * response missed its deadline. Retried.
         */
        TIMEOUT,
        /** Another HTTP status; 5xx, 408 and 429 are retried, other statuses move on to the next mirror. */
        HTTP_STATUS,
        /** Connection refused, reset or lost mid-body. Retried (resuming with a Range request when possible). */
        CONNECTION,
        /** The bytes do not hash to the manifest's sha256: a corrupt or malicious mirror. Never retried there. */
        CHECKSUM,
        /** More or fewer bytes than the manifest's size. Never retried on that mirror. */
        SIZE,
        /** The mirror answered with a redirect, which is never followed. */
        REDIRECT,
        /** A local file system failure (temp file, store): no mirror can help. */
        IO,
        /** The fetch was cancelled (another artifact failed, or the fetcher was closed or interrupted). */
        CANCELLED
    }

    private final Kind kind;
    private final String filename;
    private final String url;
    private final String reason;
    private final int httpStatus;
    private final boolean retryable;
    /** Set by {@link #exhausted}; null: derived from this attempt's kind. */
    private FailureReason failureReason;

    /**
     * A failure of one attempt.
     *
     * @param kind     what went wrong
     * @param filename artifact file name as in the manifest
     * @param url      full URL of the attempt; empty when no mirror was involved
     * @param reason   why, in words, without the file name and URL (they are added to the message)
     * @param cause    the underlying exception, or null
     */
    public FetchException(Kind kind, String filename, String url, String reason, Throwable cause) {
        this(kind, 0, defaultRetryable(kind), filename, url, reason, null, cause);
    }

    private FetchException(Kind kind, int httpStatus, boolean retryable, String filename, String url, String reason,
                           String message, Throwable cause) {
        super(message != null ? message : describe(filename, url, reason), cause);
        this.kind = Objects.requireNonNull(kind, "kind");
        this.filename = Objects.requireNonNull(filename, "filename");
        this.url = Objects.requireNonNull(url, "url");
        this.reason = Objects.requireNonNull(reason, "reason");
        this.httpStatus = httpStatus;
        this.retryable = retryable;
    }

    /** An HTTP status the fetcher does not accept; retryable for 5xx, 408 and 429. */
    static FetchException status(Kind kind, int status, String filename, String url, String reason) {
        boolean retry = kind == Kind.HTTP_STATUS && unavailable(status);
        return new FetchException(kind, status, retry, filename, url, reason, null, null);
    }

    /** A failure with explicit retryability (e.g. an inconsistent 206 after which a fresh download may work). */
    static FetchException of(Kind kind, int status, boolean retryable, String filename, String url, String reason) {
        return new FetchException(kind, status, retryable, filename, url, reason, null, null);
    }

    /**
     * The final failure after every mirror: the last attempt's kind, the last attempt per mirror in the message, and
     * as {@link #failureReason()} the most telling of the mirrors' last failures (see {@link #telling}; among equally
     * telling ones, the later mirror's, as for the kind).
     *
     * @param lastPerMirror the last failure on each mirror, in the order tried (not empty)
     */
    static FetchException exhausted(List<FetchException> lastPerMirror, String head, List<String> perMirror) {
        FetchException last = lastPerMirror.get(lastPerMirror.size() - 1);
        FetchException telling = last;
        for (FetchException e : lastPerMirror) {
            if (telling(e) <= telling(telling)) {
                telling = e;
            }
        }
        String summary = String.join("; ", perMirror);
        FetchException out = new FetchException(last.kind, last.httpStatus, last.retryable, last.filename, last.url,
                summary, head + ": " + summary, last);
        out.failureReason = telling.failureReason();
        return out;
    }

    /**
     * How much a mirror's failure says about the artifact, most first: wrong bytes (a corrupt or hostile mirror),
     * wrong size, not found, then a mirror that could not serve (timeout, lost connection, 5xx), then the rest.
     */
    private static int telling(FetchException e) {
        return switch (e.failureReason()) {
            case REASON_FETCH_CHECKSUM -> 0;
            case REASON_FETCH_SIZE -> 1;
            case REASON_FETCH_NOT_FOUND -> 2;
            case REASON_FETCH_TIMEOUT, REASON_FETCH_UNREACHABLE, REASON_FETCH_UNAVAILABLE -> 3;
            default -> 4;
        };
    }

    /** What went wrong (of the last attempt). */
    public Kind kind() {
        return kind;
    }

    /** Full URL of the (last) attempt; empty when no mirror was involved. */
    public String url() {
        return url;
    }

    /** Artifact file name as in the manifest. */
    public String filename() {
        return filename;
    }

    /** Why, in words, without file name and URL. */
    public String reason() {
        return reason;
    }

    /** HTTP status of the (last) attempt, or 0 when no status was received. */
    public int httpStatus() {
        return httpStatus;
    }

    /** True when trying the same mirror again may succeed (timeouts, lost connections, 5xx, 408, 429). */
    public boolean retryable() {
        return retryable;
    }

    /**
     * The typed reason a deploy that ends with this failure reports: decided by the kind of the attempt (and, for
     * an HTTP status, whether it is one a mirror answers while it is unavailable: 5xx, 408, 429); after every
     * mirror failed, by the most telling of their last attempts (see {@link #exhausted}).
     */
    public FailureReason failureReason() {
        if (failureReason != null) {
            return failureReason;
        }
        return switch (kind) {
            case NOT_FOUND -> FailureReason.REASON_FETCH_NOT_FOUND;
            case TIMEOUT -> FailureReason.REASON_FETCH_TIMEOUT;
            case CONNECTION -> FailureReason.REASON_FETCH_UNREACHABLE;
            case HTTP_STATUS -> unavailable(httpStatus) ? FailureReason.REASON_FETCH_UNAVAILABLE
                    : FailureReason.REASON_FETCH_HTTP_STATUS;
            case CHECKSUM -> FailureReason.REASON_FETCH_CHECKSUM;
            case SIZE -> FailureReason.REASON_FETCH_SIZE;
            case REDIRECT -> FailureReason.REASON_FETCH_REDIRECT;
            case IO -> FailureReason.REASON_FETCH_LOCAL_IO;
            case CANCELLED -> FailureReason.REASON_ABORTED;
        };
    }

    /** A status a mirror answers while it cannot serve for now: 5xx, 408, 429. */
    private static boolean unavailable(int status) {
        return status >= 500 || status == 408 || status == 429;
    }

    private static boolean defaultRetryable(Kind kind) {
        return kind == Kind.TIMEOUT || kind == Kind.CONNECTION;
    }

    private static String describe(String filename, String url, String reason) {
        return url == null || url.isEmpty() ? filename + ": " + reason : filename + " from " + url + ": " + reason;
    }
}

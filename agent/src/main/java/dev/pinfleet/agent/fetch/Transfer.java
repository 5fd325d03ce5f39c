package dev.pinfleet.agent.fetch;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.proto.v1.Artifact;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The rules every transport applies to one attempt, whatever carries the bytes: which statuses and headers are
 * accepted (206 only with the Content-Range asked for, redirects refused, 404 told apart), how the body is
 * streamed (never more than the declared size plus one byte), and what the errors say.
 */
final class Transfer {
    private Transfer() {}

    static final String USER_AGENT = "pinfleet-agent";
    static final int BUFFER = 1 << 16;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

    /** One attempt at one artifact from one URL. */
    interface Transport {
        /**
         * Downloads the rest of {@code a} into {@code part}: all of it, or from {@code part.bytes()} on when a
         * previous attempt was cut. On return the file holds exactly {@code a.getSize()} bytes.
         *
         * @return true when the bytes continued the partial file (206), false when they started from byte 0
         */
        boolean run(Artifact a, URI url, PartialFile part, Batch batch) throws FetchException, InterruptedException;
    }

    /**
     * Checks status and headers ({@code header} gives a header's first value by case-insensitive name); returns
     * the offset the body starts at (0 for a whole file).
     */
    /** Checks status and headers; returns the offset the body starts at (0 for a whole file). */
    static long acceptStatus(int st, Function<String, Optional<String>> header, long offset, long size, Artifact a,
                             URI url, PartialFile part) throws FetchException {
        String f = a.getFilename();
        String u = url.toString();
        long from;
        if (st == 200) {
            from = 0;
        } else if (st == 206) {
            if (offset == 0) {
                throw FetchException.status(Kind.HTTP_STATUS, st, f, u,
                        "HTTP 206 Partial Content to a request for the whole file");
            }
            String range = header.apply("Content-Range").orElse("");
            Matcher m = CONTENT_RANGE.matcher(range);
            if (!m.matches() || number(m.group(1)) != offset || number(m.group(2)) != size - 1
                    || !(m.group(3).equals("*") || number(m.group(3)) == size)) {
                resetPart(part, a, url);
                throw FetchException.of(Kind.HTTP_STATUS, st, true, f, u, "HTTP 206 with Content-Range '" + shown(range)
                        + "' where bytes " + offset + "-" + (size - 1) + "/" + size + " were asked; starting over");
            }
            from = offset;
        } else if (st >= 300 && st < 400) {
            String to = header.apply("Location").map(Transfer::shown).orElse("(no Location)");
            throw FetchException.status(Kind.REDIRECT, st, f, u, "HTTP " + st + " redirect to " + to
                    + " refused: redirects are never followed");
        } else if (st == 404 || st == 410) {
            throw FetchException.status(Kind.NOT_FOUND, st, f, u, "HTTP " + st + ": not found on this mirror");
        } else {
            throw FetchException.status(Kind.HTTP_STATUS, st, f, u, "HTTP " + st);
        }
        Optional<String> length = header.apply("Content-Length");
        long announced;
        try {
            announced = length.isPresent() ? Long.parseLong(length.get().strip()) : -1;
        } catch (NumberFormatException e) {
            throw FetchException.status(Kind.SIZE, st, f, u, "mirror sent Content-Length '" + shown(length.get())
                    + "', which is not a number");
        }
        if (announced >= 0 && announced != size - from) {
            throw FetchException.status(Kind.SIZE, st, f, u, "mirror announced " + announced
                    + " bytes (Content-Length) where " + (size - from) + " of the expected " + size
                    + " bytes were due");
        }
        return from;
    }

    /**
     * Streams the body into {@code part}, reading never more than {@code size + 1} bytes in all, and checks it ended
     * at exactly {@code size}.
     */
    static void copy(InputStream body, PartialFile part, long size, Watchdog dog, Artifact a, URI url, Batch batch,
                     FetchConfig cfg) throws FetchException {
        byte[] buf = new byte[BUFFER];
        long limit = size + 1;
        while (true) {
            int want = (int) Math.min(buf.length, limit - part.bytes());
            int n;
            try {
                n = body.read(buf, 0, want);
            } catch (IOException e) {
                if (dog.tripped() != null) {
                    throw tripped(dog, a, url, part.bytes(), batch, cfg);
                }
                throw new FetchException(Kind.CONNECTION, a.getFilename(), url.toString(), "connection lost after "
                        + part.bytes() + " of " + size + " bytes: " + describe(e), e);
            }
            if (n < 0) {
                break;
            }
            dog.progress(n);
            try {
                part.append(buf, n);
            } catch (IOException e) {
                throw localFailure(a, url, e);
            }
            if (part.bytes() > size) {
                throw new FetchException(Kind.SIZE, a.getFilename(), url.toString(), "mirror sent more than the"
                        + " expected " + size + " bytes; cut after " + part.bytes(), null);
            }
        }
        if (dog.tripped() != null && part.bytes() != size) {
            throw tripped(dog, a, url, part.bytes(), batch, cfg);
        }
        if (part.bytes() < size) {
            throw new FetchException(Kind.SIZE, a.getFilename(), url.toString(), "body ended after "
                    + part.bytes() + " bytes where " + size + " were expected", null);
        }
    }

    /** The error for an attempt its watchdog stopped: idle, too slow, deadline or cancelled. */
    static FetchException tripped(Watchdog dog, Artifact a, URI url, long got, Batch batch, FetchConfig cfg) {
        String f = a.getFilename();
        String u = url.toString();
        String progress = " (" + got + " of " + a.getSize() + " bytes received)";
        Watchdog.Trip why = dog.tripped();
        if (why == Watchdog.Trip.IDLE) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: no byte from the mirror for "
                    + millis(cfg.idleTimeout().toMillis()) + progress, null);
        }
        if (why == Watchdog.Trip.SLOW) {
            return new FetchException(Kind.TIMEOUT, f, u, "too slow: " + dog.slowBytes() + " bytes in "
                    + millis(dog.slowNanos() / 1_000_000) + ", below the minimum speed of " + cfg.minSpeed()
                    + " bytes/s" + progress, null);
        }
        if (why == Watchdog.Trip.DEADLINE) {
            return new FetchException(Kind.TIMEOUT, f, u, "timed out: response not complete within the request"
                    + " timeout of " + millis(cfg.requestTimeout().toMillis()) + progress, null);
        }
        String reason = batch.cancelReason();
        return new FetchException(Kind.CANCELLED, f, u, "cancelled: " + (reason == null ? "stopped" : reason), null);
    }

    static void resetPart(PartialFile part, Artifact a, URI url) throws FetchException {
        try {
            part.reset();
        } catch (IOException e) {
            throw localFailure(a, url, e);
        }
    }

    /**
     * Where a download of {@code a} resumes: the bytes already in {@code part} when it holds a proper prefix,
     * otherwise 0 after emptying it.
     */
    static long resumeOffset(Artifact a, URI url, PartialFile part) throws FetchException {
        long offset = part.bytes() > 0 && part.bytes() < a.getSize() ? part.bytes() : 0;
        try {
            if (offset == 0) {
                part.reset();
            }
        } catch (IOException e) {
            throw localFailure(a, url, e);
        }
        return offset;
    }

    static FetchException localFailure(Artifact a, URI url, IOException e) {
        return new FetchException(Kind.IO, a.getFilename(), url.toString(),
                "local file system failure writing the download: " + describe(e), e);
    }

    /** "Type: message", followed by the root cause when it says more (the JDK client wraps the real reason). */
    static String describe(Throwable t) {
        String text = oneLine(t);
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String rootMsg = root.getMessage();
        if (root != t && rootMsg != null && !rootMsg.isBlank() && !text.contains(rootMsg)) {
            text += " (" + oneLine(root) + ")";
        }
        return text;
    }

    private static String oneLine(Throwable t) {
        String msg = t.getMessage();
        String type = t.getClass().getSimpleName();
        return msg == null || msg.isBlank() ? type : type + ": " + msg;
    }

    /** A decimal number from a header; -1 when it does not fit a long (never equal to an offset or size). */
    private static long number(String digits) {
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** A value the mirror chose, for an error message: control characters escaped, at most 300 characters. */
    static String shown(String value) {
        String v = value.length() > 300 ? value.substring(0, 300) + "..." : value;
        return dev.pinfleet.manifest.Names.printable(v);
    }

    static String millis(long ms) {
        return ms % 1000 == 0 ? (ms / 1000) + " s" : ms + " ms";
    }

    static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // the connection is dropped either way
        }
    }
}

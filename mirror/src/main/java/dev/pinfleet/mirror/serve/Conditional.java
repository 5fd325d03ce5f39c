package dev.pinfleet.mirror.serve;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** HTTP dates and the conditional-request rules (RFC 9110 section 13) the mirror's answers follow. */
final class Conditional {
    private Conditional() {}

    /** IMF-fixdate, as Date, Last-Modified and If-Modified-Since carry it. */
    static final DateTimeFormatter HTTP_DATE =
            DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US).withZone(ZoneOffset.UTC);

    /** If-None-Match (weak comparison) wins over If-Modified-Since, per RFC 9110 section 13.2.2. */
    static boolean notModified(HttpRequest req, String etag, Instant mtime) {
        String inm = req.headers().get(HttpHeaderNames.IF_NONE_MATCH);
        if (inm != null) {
            return etagListMatches(inm, etag);
        }
        String ims = req.headers().get(HttpHeaderNames.IF_MODIFIED_SINCE);
        if (ims != null) {
            try {
                Instant since = Instant.from(HTTP_DATE.parse(ims.strip()));
                return mtime.getEpochSecond() <= since.getEpochSecond();
            } catch (DateTimeParseException e) {
                return false;
            }
        }
        return false;
    }

    static boolean etagListMatches(String header, String etag) {
        for (String candidate : header.split(",")) {
            String c = candidate.strip();
            if (c.equals("*")) {
                return true;
            }
            if (c.startsWith("W/")) {
                c = c.substring(2);
            }
            if (c.equals(etag)) {
                return true;
            }
        }
        return false;
    }

    /** Range is honoured unless an If-Range names a different validator (strong comparison for ETags). */
    static boolean rangeApplies(HttpRequest req, String etag, String lastModified) {
        String ifRange = req.headers().get(HttpHeaderNames.IF_RANGE);
        if (ifRange == null) {
            return true;
        }
        String v = ifRange.strip();
        return v.startsWith("\"") || v.startsWith("W/") ? v.equals(etag) : v.equals(lastModified);
    }
}

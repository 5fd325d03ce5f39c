package dev.pinfleet.mirror.serve;

/**
 * A single byte range from a {@code Range} header (RFC 9110 section 14): {@code bytes=a-b}, {@code bytes=a-}
 * or {@code bytes=-n}, resolved against the representation's length.
 *
 * @param start  first byte, inclusive
 * @param length number of bytes (at least 1)
 */
record ByteRange(long start, long length) {

    /** The outcome of applying a Range header. */
    sealed interface Result permits Full, Partial, Unsatisfiable {}

    /** Serve the whole representation: no header, a syntax the server ignores, or several ranges. */
    record Full() implements Result {}

    /** Serve this one range with 206. */
    record Partial(ByteRange range) implements Result {}

    /** Answer 416 with {@code Content-Range: bytes *}{@code /size}. */
    record Unsatisfiable() implements Result {}

    /** The last byte, inclusive. */
    long end() {
        return start + length - 1;
    }

    /**
     * Resolves {@code header} (may be null) against {@code size}. Malformed headers and multi-range
     * requests are ignored (a full response is allowed by RFC 9110 and is what many servers do).
     */
    static Result resolve(String header, long size) {
        if (header == null) {
            return new Full();
        }
        String h = header.strip();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return new Full();
        }
        String spec = h.substring(6).strip();
        if (spec.indexOf(',') >= 0) {
            return new Full();
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Full();
        }
        String first = spec.substring(0, dash).strip();
        String last = spec.substring(dash + 1).strip();
        if (first.isEmpty()) {
            long n = number(last);
            if (n < 0) {
                return new Full();
            }
            if (n == 0 || size == 0) {
                return new Unsatisfiable();
            }
            long len = Math.min(n, size);
            return new Partial(new ByteRange(size - len, len));
        }
        long a = number(first);
        if (a < 0) {
            return new Full();
        }
        long b;
        if (last.isEmpty()) {
            b = Long.MAX_VALUE;
        } else {
            b = number(last);
            if (b < 0 || b < a) {
                return new Full();
            }
        }
        if (a >= size) {
            return new Unsatisfiable();
        }
        long end = Math.min(b, size - 1);
        return new Partial(new ByteRange(a, end - a + 1));
    }

    /** A non-negative decimal, saturating at Long.MAX_VALUE; -1 when not all digits or empty. */
    private static long number(String s) {
        if (s.isEmpty()) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v > (Long.MAX_VALUE - 9) / 10 ? Long.MAX_VALUE : v * 10 + (c - '0');
        }
        return v;
    }
}

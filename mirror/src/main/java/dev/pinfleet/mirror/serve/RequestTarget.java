package dev.pinfleet.mirror.serve;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A request target decoded into path segments, with every form of path escape refused up front: the
 * percent-encoding is decoded exactly once, per segment, so {@code %2f} can never become a separator;
 * segments that are, or decode to, {@code .} or {@code ..}, or that hold a slash, backslash, NUL or
 * another control character, are refused; so are backslashes anywhere, empty segments ({@code //}),
 * fragments, malformed escapes and invalid UTF-8. The query string is dropped.
 *
 * @param segments      the decoded path segments (none for {@code /})
 * @param trailingSlash whether the path ended with '/'
 */
record RequestTarget(List<String> segments, boolean trailingSlash) {

    /** Why a target was refused; {@link #getMessage()} is safe to log (control characters escaped). */
    static final class BadTargetException extends Exception {
        private static final long serialVersionUID = 1L;

        BadTargetException(String message) {
            super(message, null, false, false);
        }
    }

    RequestTarget {
        segments = List.copyOf(segments);
    }

    /** Parses an origin-form ({@code /a/b?q}) or absolute-form ({@code http://host/a/b}) target. */
    static RequestTarget parse(String uri) throws BadTargetException {
        String path = uri;
        int q = path.indexOf('?');
        if (q >= 0) {
            path = path.substring(0, q);
        }
        if (path.regionMatches(true, 0, "http://", 0, 7) || path.regionMatches(true, 0, "https://", 0, 8)) {
            int start = path.indexOf("//") + 2;
            int slash = path.indexOf('/', start);
            path = slash < 0 ? "/" : path.substring(slash);
        }
        if (path.isEmpty() || path.charAt(0) != '/') {
            throw new BadTargetException("request target is not an absolute path");
        }
        if (path.indexOf('\\') >= 0 || path.indexOf('#') >= 0) {
            throw new BadTargetException("request target contains a backslash or '#'");
        }
        String[] raw = path.substring(1).split("/", -1);
        List<String> segments = new ArrayList<>(raw.length);
        boolean trailingSlash = false;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i].isEmpty()) {
                if (i == raw.length - 1) {
                    trailingSlash = i > 0;
                    continue;
                }
                throw new BadTargetException("request path has an empty segment");
            }
            segments.add(decodeSegment(raw[i]));
        }
        return new RequestTarget(segments, trailingSlash);
    }

    private static String decodeSegment(String raw) throws BadTargetException {
        ByteBuffer bytes = ByteBuffer.allocate(raw.length() * 3);
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) {
                    throw new BadTargetException("malformed percent-escape in request path");
                }
                int hi = Character.digit(raw.charAt(i + 1), 16);
                int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new BadTargetException("malformed percent-escape in request path");
                }
                bytes.put((byte) ((hi << 4) | lo));
                i += 2;
            } else if (c > 0x7e || c < 0x21) {
                throw new BadTargetException("request path holds a raw non-printable or non-ASCII character");
            } else {
                bytes.put((byte) c);
            }
        }
        bytes.flip();
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new BadTargetException("request path is not valid UTF-8 after percent-decoding");
        }
        if (s.equals(".") || s.equals("..")) {
            throw new BadTargetException("request path has a '.' or '..' segment");
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '/' || c == '\\') {
                throw new BadTargetException("request path has an encoded path separator");
            }
            if (c < 0x20 || c == 0x7f) {
                throw new BadTargetException("request path has an encoded NUL or control character");
            }
        }
        return s;
    }
}

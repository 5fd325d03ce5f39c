package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestTargetTest {
    @Test
    void decodesEachSegmentOnce() throws Exception {
        assertEquals(new RequestTarget(List.of("packages", "a b", "x+y%2e"), false),
                RequestTarget.parse("/packages/a%20b/x+y%252e?q=1"));
        assertEquals(new RequestTarget(List.of("simple"), true), RequestTarget.parse("/simple/"));
        assertEquals(new RequestTarget(List.of(), false), RequestTarget.parse("/"));
        assertEquals(new RequestTarget(List.of("simple", "caf\u00e9"), true), RequestTarget.parse("/simple/caf%C3%A9/"));
        assertEquals(new RequestTarget(List.of("p"), false), RequestTarget.parse("HTTP://host:8080/p"));
        assertEquals(new RequestTarget(List.of(), false), RequestTarget.parse("http://host"));
        // the printable ASCII range is allowed raw, from '!' (0x21) to '~' (0x7e)
        assertEquals(new RequestTarget(List.of("!a~", "~b!"), false), RequestTarget.parse("/!a~/~b!"));
        assertEquals(new RequestTarget(List.of("a b\u007e"), false), RequestTarget.parse("/a%20b%7e"));
    }

    /** The reason is what the client reads in the 400 answer: each refusal names its own rule. */
    @Test
    void eachRefusalNamesItsRule() {
        Map<String, String> why = Map.of(
                "/a%0a", "request path has an encoded NUL or control character",
                "/a%0A", "request path has an encoded NUL or control character",
                "/a%7f", "request path has an encoded NUL or control character",
                "/a%1f", "request path has an encoded NUL or control character",
                "/%2e%2E", "request path has a '.' or '..' segment",
                "/a%2fb", "request path has an encoded path separator",
                "/a%4", "malformed percent-escape in request path",
                "/a%g0", "malformed percent-escape in request path",
                "/a\u007f", "request path holds a raw non-printable or non-ASCII character",
                "/a//b", "request path has an empty segment");
        for (Map.Entry<String, String> c : why.entrySet()) {
            RequestTarget.BadTargetException e = assertThrows(RequestTarget.BadTargetException.class,
                    () -> RequestTarget.parse(c.getKey()), c.getKey());
            assertEquals(c.getValue(), e.getMessage(), c.getKey());
        }
    }

    @Test
    void refusesEveryEscape() {
        for (String bad : List.of("/..", "/a/../b", "/%2e%2e/x", "/%2E%2e", "/.", "/a/%2e/b", "/a%2fb", "/a%2Fb",
                "/a%5cb", "/a\\b", "/a%00", "/a%0a", "//a", "/a//b", "a/b", "*", "/a%", "/a%4", "/a%zz",
                "/a%ff", "/a#b", "/a b", "/caf\u00e9", "/a%7f", "/a%7F", "/a%1f", "/a\u007f", "?/a")) {
            assertThrows(RequestTarget.BadTargetException.class, () -> RequestTarget.parse(bad), bad);
        }
    }
}

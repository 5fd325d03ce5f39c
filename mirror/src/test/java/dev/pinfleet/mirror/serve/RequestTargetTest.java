package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
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
    }

    @Test
    void refusesEveryEscape() {
        for (String bad : List.of("/..", "/a/../b", "/%2e%2e/x", "/%2E%2e", "/.", "/a/%2e/b", "/a%2fb", "/a%2Fb",
                "/a%5cb", "/a\\b", "/a%00", "/a%0a", "//a", "/a//b", "a/b", "*", "/a%", "/a%4", "/a%zz",
                "/a%ff", "/a#b", "/a b", "/caf\u00e9")) {
            assertThrows(RequestTarget.BadTargetException.class, () -> RequestTarget.parse(bad), bad);
        }
    }
}

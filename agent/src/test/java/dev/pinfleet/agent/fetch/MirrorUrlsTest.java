package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.URI;
import org.junit.jupiter.api.Test;

/**
 * The only URLs the fetcher builds: a checked base plus a relative path in which every byte outside RFC 3986's
 * unreserved set is percent-encoded, checked here byte by byte against the RFC's list, independently of the code.
 */
class MirrorUrlsTest {
    private static final String UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

    @Test
    void everyPrintableByteOutsideTheUnreservedSetIsPercentEncoded() {
        StringBuilder name = new StringBuilder("x");
        StringBuilder expected = new StringBuilder("http://m:8080/simple/x");
        for (char c = 0x20; c < 0x7f; c++) {
            if (c == '/' || c == '\\') {
                continue; // refused in a file name
            }
            name.append(c);
            expected.append(UNRESERVED.indexOf(c) >= 0 ? String.valueOf(c) : String.format("%%%02X", (int) c));
        }
        URI base = MirrorUrls.base(URI.create("http://m:8080/simple"));
        assertEquals(expected + "/b.whl", MirrorUrls.resolve(base, name + "/b.whl").toString());
    }

    @Test
    void utf8BytesAreEncodedOneByOne() {
        URI base = MirrorUrls.base(URI.create("https://m/"));
        assertEquals("https://m/caf%C3%A9/%E2%82%AC%2B1.whl", MirrorUrls.resolve(base, "café/€+1.whl").toString());
    }

    @Test
    void anUnsafePathIsRefusedEvenThoughTheManifestValidatorRefusesItFirst() {
        URI base = MirrorUrls.base(URI.create("https://m/"));
        for (String p : new String[] {"../etc/passwd", "/etc/passwd", "a//b", "a/./b", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MirrorUrls.resolve(base, p));
            assertEquals("artifact " + dev.pinfleet.manifest.Names.checkRelativePath(p), e.getMessage(), p);
        }
    }

    @Test
    void theBaseKeepsItsPathAndEndsWithASlash() {
        assertEquals("http://m/", MirrorUrls.base(URI.create("http://m")).toString());
        assertEquals("http://m/", MirrorUrls.base(URI.create("HTTP://m/")).toString());
        assertEquals("https://m:8443/a/b/", MirrorUrls.base(URI.create("https://m:8443/a/b")).toString());
        assertEquals("https://m/a%20b/", MirrorUrls.base(URI.create("https://m/a%20b/")).toString());
    }

    @Test
    void aBaseThatIsNotPlainHttpOrHttpsToAHostIsRefused() {
        assertRefused("ftp://m/", "mirror URL 'ftp://m/' must be http or https");
        assertRefused("file:///srv/mirror", "mirror URL 'file:///srv/mirror' must be http or https");
        assertRefused("/srv/mirror", "mirror URL '/srv/mirror' must be http or https");
        assertRefused("http:///x", "mirror URL 'http:///x' has no host");
        assertRefused("http://u:p@m/", "mirror URL 'http://u:p@m/' must not carry user info, query or fragment");
        assertRefused("http://m/?a=1", "mirror URL 'http://m/?a=1' must not carry user info, query or fragment");
        assertRefused("http://m/#f", "mirror URL 'http://m/#f' must not carry user info, query or fragment");
    }

    private static void assertRefused(String url, String why) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MirrorUrls.base(URI.create(url)));
        assertEquals(why, e.getMessage());
    }
}

package dev.pinfleet.controller.freeze;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Pep440Test {

    @Test
    void versionsOrderAsPackagingOrdersThem() {
        List<String> ordered = List.of("1.0.dev0", "1.0a1.dev1", "1.0a1", "1.0a2.post1.dev3", "1.0a2.post1",
                "1.0b1", "1.0rc1", "1.0", "1.0+abc", "1.0+abc.5", "1.0+5", "1.0.post1.dev1", "1.0.post1", "1.1.dev1",
                "1.1", "1.10", "2!0.1");
        List<Pep440Version> parsed = new ArrayList<>(ordered.stream().map(Pep440Version::parse).toList());
        Collections.shuffle(parsed, new Random(5));
        Collections.sort(parsed);
        assertEquals(ordered, parsed.stream().map(Pep440Version::toString).toList());
    }

    @Test
    void normalizationFollowsPep440() {
        assertEquals("1.0rc1", Pep440Version.parse("1.0-RC1").toString());
        assertEquals("1.0a0", Pep440Version.parse("1.0alpha").toString());
        assertEquals("1.0.post2", Pep440Version.parse("1.0-2").toString());
        assertEquals("1.0.post0.dev0", Pep440Version.parse("v1.0.rev.dev").toString());
        assertEquals("1.0+ubuntu.1", Pep440Version.parse("1.0+Ubuntu-1").toString());
        assertEquals(Pep440Version.parse("1.0"), Pep440Version.parse("1.0.0"));
        assertEquals(Pep440Version.parse("1.0").hashCode(), Pep440Version.parse("1.0.0").hashCode());
        assertNull(Pep440Version.tryParse("1.0-beta-x"));
        assertNull(Pep440Version.tryParse("latest"));
    }

    private static boolean matches(String spec, String version) {
        return SpecifierSet.parse(spec).contains(version);
    }

    @Test
    void specifiersMatchAsPipCheckDoes() {
        assertTrue(matches("==1.0", "1.0.0"));
        assertTrue(matches("==1.0", "1.0+local"), "a local label is ignored by a public ==");
        assertFalse(matches("==1.0+a", "1.0+b"));
        assertTrue(matches("==1.0rc1", "1.0rc1"), "pre-releases count when pinned");
        assertTrue(matches("!=1.1", "1.0"));
        assertFalse(matches("!=1.0", "1.0.0"));
        assertTrue(matches(">=2.0,<3", "2.5"));
        assertFalse(matches(">=2.0,<3", "3.0"));
        assertFalse(matches("<3", "3.0rc1"), "< excludes pre-releases of the bound itself");
        assertTrue(matches("<3", "2.9rc1"));
        assertTrue(matches("<3rc2", "3.0rc1"));
        assertFalse(matches(">1.0", "1.0.post1"), "> excludes post-releases of the bound itself");
        assertTrue(matches(">1.0.post1", "1.0.post2"));
        assertFalse(matches(">1.0", "1.0+local"));
        assertTrue(matches(">=1.0", "1.0+local"));
        assertTrue(matches("<=1.0", "1.0+local"));
    }

    @Test
    void compatibleReleaseAndWildcards() {
        assertTrue(matches("~=2.2", "2.9"));
        assertFalse(matches("~=2.2", "3.0"));
        assertFalse(matches("~=2.2", "2.1"));
        assertTrue(matches("~=1.4.5", "1.4.9"));
        assertFalse(matches("~=1.4.5", "1.5.0"));
        assertTrue(matches("~=1.4.5a4", "1.4.5"));
        assertTrue(matches("==1.2.*", "1.2.0"));
        assertTrue(matches("==1.2.*", "1.2.7.post1"));
        assertTrue(matches("==1.2.*", "1.2rc1"));
        assertFalse(matches("==1.2.*", "1.20"));
        assertTrue(matches("==1.*", "1"));
        assertFalse(matches("==1.2.*", "1"), "the release is padded with zeros, 1 is 1.0");
        assertTrue(matches("==1.0.*", "1"));
        assertFalse(matches("!=1.2.*", "1.2.3"));
        assertTrue(matches("===1.0-weird", "1.0-WEIRD"));
        assertFalse(matches("===1.0", "1.0.0"), "=== compares text, not versions");
        assertFalse(matches(">=1.0", "not-a-version"));
        assertTrue(matches("", "anything"));
    }

    @Test
    void invalidSpecifiersAreRefused() {
        for (String bad : List.of(">=1.0.*", "~=1", "<1.0+local", "=>1.0", ">=", "==x.y")) {
            assertThrows(IllegalArgumentException.class, () -> SpecifierSet.parse(bad), bad);
        }
    }
}

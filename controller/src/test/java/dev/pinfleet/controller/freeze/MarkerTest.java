package dev.pinfleet.controller.freeze;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MarkerTest {
    private final MarkerEnvironment py311 = MarkerEnvironment.cpythonLinux("3.11.7", "manylinux_2_36_x86_64");
    private final MarkerEnvironment py311open = MarkerEnvironment.cpythonLinux("3.11", "linux_aarch64");

    private boolean eval(String marker, MarkerEnvironment env, String... extras) {
        return Marker.parse(marker).evaluate(env, Set.of(extras));
    }

    @Test
    void everyTargetVariableHasItsValue() {
        assertTrue(eval("python_version == '3.11'", py311));
        assertTrue(eval("python_version >= '3.8' and python_version < '3.12'", py311));
        assertFalse(eval("python_version < '3.10'", py311), "3.11 > 3.10 as versions, not as strings");
        assertTrue(eval("python_full_version >= '3.11.4'", py311));
        assertTrue(eval("sys_platform == 'linux' and os_name == \"posix\" and platform_system == 'Linux'", py311));
        assertTrue(eval("platform_machine == 'x86_64'", py311));
        assertTrue(eval("platform_machine == 'aarch64'", py311open));
        assertTrue(eval("implementation_name == 'cpython' and platform_python_implementation == 'CPython'", py311));
        assertTrue(eval("implementation_version == '3.11.7'", py311));
        assertFalse(eval("sys_platform == 'win32' or sys_platform == 'darwin'", py311));
        assertTrue(eval("'linux' in sys_platform and 'win' not in sys_platform", py311));
        assertTrue(eval("os.name == 'posix' and python_implementation == 'CPython'", py311), "legacy names");
    }

    @Test
    void andBindsTighterThanOrAndParenthesesGroup() {
        assertTrue(eval("sys_platform == 'win32' and python_version < '3' or python_version >= '3.11'", py311));
        assertFalse(eval("sys_platform == 'win32' and (python_version < '3' or python_version >= '3.11')", py311));
        assertTrue(eval("((python_version >= '3.9'))", py311));
    }

    @Test
    void extrasAreComparedNormalized() {
        assertFalse(eval("extra == 'socks'", py311));
        assertTrue(eval("extra == 'socks'", py311, "socks"));
        assertTrue(eval("extra == 'Use_Chardet'", py311, "use-chardet"));
        assertTrue(eval("extra == 'a' or extra == 'b'", py311, "b", "c"));
        assertTrue(eval("python_version >= '3' ", py311, "x"), "a marker without extra holds with any extra");
    }

    @Test
    void anAnswerThatNeedsTheUnknownPatchReleaseIsAnError() {
        assertTrue(eval("python_full_version >= '3.8.1'", py311open), "3.11.0 and 3.11.99 agree");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> eval("python_full_version >= '3.11.4'", py311open));
        assertTrue(e.getMessage().contains("--python 3.11.N"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> eval("platform_release >= '5'", py311));
        assertTrue(e.getMessage().contains("node's kernel"), e.getMessage());
    }

    @Test
    void malformedMarkersAreRefusedSayingWhere() {
        for (String bad : List.of("python_version", "python_version ==", "nonsense == 'x'", "'a' == 'b'",
                "python_version == '3.11' and", "(python_version == '3.11'", "python_version => '3'",
                "python_version == '3.11", "python_version == '3.11' or or")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Marker.parse(bad), bad);
            assertTrue(e.getMessage().startsWith("marker '"), e.getMessage());
        }
    }

    @Test
    void pep508RequirementsParse() {
        Pep508 r = Pep508.parse("Requests[Socks, use_chardet] (>=2.0,<3) ; python_version >= '3.8'");
        assertEquals("Requests", r.name());
        assertEquals("requests", r.project());
        assertEquals(List.of("socks", "use-chardet"), List.copyOf(r.extras()));
        assertTrue(r.specifiers().contains("2.31.0"));
        assertTrue(r.marker().evaluate(py311, Set.of()));
        Pep508 url = Pep508.parse("mylib @ git+https://example.com/mylib.git@" + "a".repeat(40) + " ; os_name == 'posix'");
        assertEquals("git+https://example.com/mylib.git@" + "a".repeat(40), url.url());
        assertTrue(url.marker().evaluate(py311, Set.of()));
        assertTrue(Pep508.parse("six").specifiers().isEmpty());
        assertThrows(IllegalArgumentException.class, () -> Pep508.parse("six >= "));
        assertThrows(IllegalArgumentException.class, () -> Pep508.parse("six[bad extra]"));
        assertThrows(IllegalArgumentException.class, () -> Pep508.parse("six ;"));
    }
}

package dev.pinfleet.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The tag sets of {@code packaging.tags.sys_tags()} at their edges: the oldest abi3 and generic minor versions
 * included, one newer excluded, the legacy manylinux aliases only where they exist.
 */
class TagsTest {
    private static boolean accepts(Tags t, String tags) {
        return t.isCompatible(WheelFilename.parse("x-1.0-" + tags + ".whl"));
    }

    @Test
    void cpythonAcceptsItsOwnAbiAbi3DownToCp32AndGenericDownToPy30() {
        Tags t = Tags.forInterpreter("cp", "3.4", "cp34m", List.of("linux_x86_64"));
        for (String ok : List.of("cp34-cp34m-linux_x86_64", "cp34-abi3-linux_x86_64", "cp34-none-linux_x86_64",
                "cp33-abi3-linux_x86_64", "cp32-abi3-linux_x86_64", "py34-none-linux_x86_64", "py3-none-linux_x86_64",
                "py30-none-linux_x86_64", "cp34-none-any", "py34-none-any", "py3-none-any", "py30-none-any")) {
            assertTrue(accepts(t, ok), ok);
        }
        for (String no : List.of("cp31-abi3-linux_x86_64", "cp35-abi3-linux_x86_64", "py35-none-linux_x86_64",
                "py35-none-any", "cp33-cp33m-linux_x86_64", "cp33-none-any", "py2-none-any", "cp34-cp34m-any",
                "cp34-abi3-any", "pp34-none-any")) {
            assertFalse(accepts(t, no), no);
        }
    }

    @Test
    void anotherImplementationHasNoAbi3AndPython2HasNoCp3Abi3() {
        Tags pypy = Tags.forInterpreter("pp", "3.9", "pypy39_pp73", List.of("linux_x86_64"));
        assertTrue(accepts(pypy, "pp39-pypy39_pp73-linux_x86_64"));
        assertTrue(accepts(pypy, "pp39-none-any"));
        assertFalse(accepts(pypy, "pp39-abi3-linux_x86_64"));
        assertFalse(accepts(pypy, "cp38-abi3-linux_x86_64"));
        Tags py2 = Tags.forInterpreter("cp", "2.7", "cp27mu", List.of("linux_x86_64"));
        assertTrue(accepts(py2, "cp27-abi3-linux_x86_64"));
        assertTrue(accepts(py2, "py20-none-any"));
        assertFalse(accepts(py2, "cp32-abi3-linux_x86_64"));
        assertFalse(accepts(py2, "cp26-abi3-linux_x86_64"));
    }

    @Test
    void linuxPlatformsListEveryGlibcDownToTheArchitecturesOldestWithTheLegacyNames() {
        assertEquals(List.of("manylinux_2_18_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64"),
                Tags.linuxPlatforms("aarch64", 2, 18));
        assertEquals(List.of("manylinux_2_6_i686", "manylinux_2_5_i686", "manylinux1_i686", "linux_i686"),
                Tags.linuxPlatforms("i686", 2, 6));
        List<String> x86 = Tags.linuxPlatforms("x86_64", 2, 12);
        assertEquals(List.of("manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_11_x86_64"), x86.subList(0, 3));
        assertEquals(List.of("manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64"), x86.subList(x86.size() - 3, x86.size()));
        assertEquals(12 - 5 + 1 + 2 + 1, x86.size());
        assertEquals(List.of("linux_x86_64"), Tags.linuxPlatforms("x86_64", 3, 1), "no glibc 2: no manylinux");
        assertEquals(List.of("linux_aarch64"), Tags.linuxPlatforms("aarch64", 2, 16), "older than aarch64's oldest");
    }

    @Test
    void legacyAliasesAreAddedOnlyWhereTheyExist() {
        Tags t = Tags.forInterpreter("cp", "3.11", "cp311",
                List.of("manylinux_2_17_ppc64le", "manylinux_2_12_aarch64", "manylinux_2_5_armv7l", "manylinux_2_12_i686",
                        "manylinux_2_5_x86_64", "manylinux_3_17_x86_64", "manylinux_2_13_x86_64", "linux_x86_64"));
        assertEquals(List.of("manylinux_2_17_ppc64le", "manylinux2014_ppc64le", "manylinux_2_12_aarch64",
                "manylinux_2_5_armv7l", "manylinux_2_12_i686", "manylinux2010_i686", "manylinux_2_5_x86_64",
                "manylinux1_x86_64", "manylinux_3_17_x86_64", "manylinux_2_13_x86_64", "linux_x86_64"), t.platforms());
    }

    @Test
    void aRefusalNamesTheWheelsTagsAndTheInterpreter() {
        WheelFilename win = WheelFilename.parse("x-1.0-py2.py3-none-win_amd64.whl");
        assertEquals("wheel tags py2.py3-none-win_amd64 do not suit the target interpreter cp 3.11 (abi cp311, platforms "
                + "manylinux_2_17_x86_64 … linux_x86_64)", Tags.forInterpreter("cp", "3.11", "cp311",
                List.of("manylinux_2_17_x86_64", "linux_x86_64")).whyIncompatible(win));
        assertEquals("wheel tags py2.py3-none-win_amd64 do not suit the target interpreter cp 3.11 (abi cp311, platforms "
                + "linux_x86_64)", Tags.forInterpreter("cp", "3.11", "cp311", List.of("linux_x86_64")).whyIncompatible(win));
        Tags none = Tags.forInterpreter("cp", "3.11", "cp311", List.of());
        assertTrue(none.whyIncompatible(win).endsWith("(abi cp311, platforms none)"), none.whyIncompatible(win));
        assertNull(none.whyIncompatible(WheelFilename.parse("x-1.0-py3-none-any.whl")));
        assertEquals("python version '3' is not MAJOR.MINOR",
                assertThrows(IllegalArgumentException.class, () -> Tags.forInterpreter("cp", "3", "cp3", List.of()))
                        .getMessage());
    }
}

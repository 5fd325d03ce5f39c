package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.wheel.Tags;
import dev.pinfleet.wheel.WheelFilename;
import java.util.List;
import org.junit.jupiter.api.Test;

class TagsCompatibilityTest {
    private static final Tags CP311 = Tags.forInterpreter("cp", "3.11", "cp311", Tags.linuxPlatforms("x86_64", 2, 36));

    private static boolean ok(String tags) {
        return CP311.isCompatible(WheelFilename.parse("x-1.0-" + tags + ".whl"));
    }

    @Test
    void linuxPlatformsAreMostSpecificFirstWithLegacyAliases() {
        List<String> p = Tags.linuxPlatforms("x86_64", 2, 36);
        assertEquals("manylinux_2_36_x86_64", p.get(0));
        assertEquals("linux_x86_64", p.get(p.size() - 1));
        assertEquals(p.indexOf("manylinux_2_17_x86_64") + 1, p.indexOf("manylinux2014_x86_64"));
        assertEquals(p.indexOf("manylinux_2_12_x86_64") + 1, p.indexOf("manylinux2010_x86_64"));
        assertEquals(p.indexOf("manylinux_2_5_x86_64") + 1, p.indexOf("manylinux1_x86_64"));
        assertFalse(Tags.linuxPlatforms("aarch64", 2, 36).contains("manylinux_2_16_aarch64"));
        assertEquals(List.of("linux_x86_64"), Tags.linuxPlatforms("x86_64", 0, 0));
    }

    @Test
    void acceptsWhatPipWouldInstallOnCPython311() {
        for (String t : List.of("py3-none-any", "py2.py3-none-any", "py311-none-any", "py30-none-any", "cp311-none-any",
                "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp311-abi3-manylinux1_x86_64",
                "cp37-abi3-manylinux_2_28_x86_64", "cp311-cp311-linux_x86_64", "py3-none-manylinux_2_31_x86_64")) {
            assertTrue(ok(t), t);
        }
    }

    @Test
    void refusesWhatPipWouldRefuse() {
        for (String t : List.of("cp27-cp27mu-manylinux1_x86_64", "py2-none-any", "py312-none-any", "cp310-cp310-linux_x86_64",
                "cp312-abi3-linux_x86_64", "cp310-none-any", "py3-none-win_amd64", "cp311-cp311-musllinux_1_2_x86_64",
                "cp311-cp311-manylinux_2_39_x86_64", "cp311-cp311-manylinux_2_17_aarch64", "pp39-pypy39_pp73-any")) {
            assertFalse(ok(t), t);
        }
    }

    @Test
    void explainsARefusal() {
        String why = CP311.whyIncompatible(WheelFilename.parse("x-1.0-py3-none-win_amd64.whl"));
        assertTrue(why.contains("py3-none-win_amd64") && why.contains("cp 3.11"), why);
        assertNull(CP311.whyIncompatible(WheelFilename.parse("x-1.0-py3-none-any.whl")));
    }

    @Test
    void legacyAliasesAreAcceptedEvenWhenTheListLacksThem() {
        Tags t = Tags.forInterpreter("cp", "3.11", "cp311", List.of("manylinux_2_17_x86_64", "linux_x86_64"));
        assertTrue(t.isCompatible(WheelFilename.parse("x-1.0-cp311-cp311-manylinux2014_x86_64.whl")));
    }
}

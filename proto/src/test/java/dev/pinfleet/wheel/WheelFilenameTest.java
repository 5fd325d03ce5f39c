package dev.pinfleet.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class WheelFilenameTest {
    @Test
    void theBuildTagIsOptionalAndCompressedTagSetsExpand() {
        WheelFilename plain = WheelFilename.parse("Demo_Pkg-1.0-py2.py3-none-any.whl");
        assertEquals(new WheelFilename("Demo_Pkg", "1.0", "", List.of("py2", "py3"), List.of("none"), List.of("any")), plain);
        WheelFilename built = WheelFilename.parse("demo-2.0-1build-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl");
        assertEquals("1build", built.build());
        assertEquals(List.of("manylinux_2_17_x86_64", "manylinux2014_x86_64"), built.platformTags());
        assertEquals("demo-2.0", built.distInfoPrefix());
    }

    @Test
    void isForComparesNormalizedNamesAndTheExactVersion() {
        WheelFilename w = WheelFilename.parse("Demo_Pkg-1.0_rc1-py3-none-any.whl");
        assertTrue(w.isFor("demo-pkg", "1.0-rc1"), "PEP 503 names, '-' in a version is '_' in a file name");
        assertFalse(w.isFor("demo-pkg", "1.0rc1"));
        assertFalse(w.isFor("demo-pk", "1.0_rc1"));
    }

    @Test
    void whatIsNotAWheelNameSaysSo() {
        assertEquals("'demo-1.0.tar.gz' is not a wheel file name (name-version[-build]-python-abi-platform.whl)",
                assertThrows(IllegalArgumentException.class, () -> WheelFilename.parse("demo-1.0.tar.gz")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> WheelFilename.parse("../demo-1.0-py3-none-any.whl"));
    }
}

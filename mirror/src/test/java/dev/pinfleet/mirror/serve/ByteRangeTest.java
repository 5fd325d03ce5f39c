package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import org.junit.jupiter.api.Test;

class ByteRangeTest {
    private static ByteRange partial(String header, long size) {
        return assertInstanceOf(ByteRange.Partial.class, ByteRange.resolve(header, size)).range();
    }

    @Test
    void resolvesTheThreeSingleRangeForms() {
        assertEquals(new ByteRange(0, 10), partial("bytes=0-9", 100));
        assertEquals(new ByteRange(90, 10), partial("bytes=90-", 100));
        assertEquals(new ByteRange(95, 5), partial("bytes=-5", 100));
        assertEquals(new ByteRange(0, 100), partial("bytes=-500", 100));
        assertEquals(new ByteRange(50, 50), partial("Bytes=50-99999999999999999999999", 100));
        assertEquals(99, partial("bytes=99-99", 100).end());
        assertEquals(new ByteRange(0, 1), partial("bytes=0-0", 100));
        assertEquals(new ByteRange(0, 1), partial(" bytes= 0 - 0 ", 100));
    }

    @Test
    void unsatisfiableRanges() {
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve("bytes=100-", 100));
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve("bytes=100-200", 100));
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve("bytes=-0", 100));
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve("bytes=0-", 0));
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve("bytes=-5", 0), "an empty file has no suffix");
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve("bytes=99999999999999999999-", 100));
    }

    @Test
    void malformedOrMultipleRangesAreIgnored() {
        for (String h : new String[] {null, "", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1",
                "bytes=0-1,3-4", "items=0-1", "bytes=+1-2", "bytes=1--2"}) {
            assertInstanceOf(ByteRange.Full.class, ByteRange.resolve(h, 100), String.valueOf(h));
        }
    }
}

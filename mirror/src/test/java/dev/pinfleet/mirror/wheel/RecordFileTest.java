package dev.pinfleet.mirror.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecordFileTest {
    @Test
    void parsesPythonCsvIncludingQuotedFields() {
        List<RecordFile.Row> rows = RecordFile.parse("a/b.py,sha256=abc,12\r\n\"we,ird \"\"name\"\".py\",,\n"
                + "\nx-1.dist-info/RECORD,,\nshort\n");
        assertEquals(List.of(new RecordFile.Row("a/b.py", "sha256=abc", "12"),
                new RecordFile.Row("we,ird \"name\".py", "", ""),
                new RecordFile.Row("x-1.dist-info/RECORD", "", ""),
                new RecordFile.Row("short", "", "")), rows);
    }

    @Test
    void formatQuotesLikePythonAndRoundTrips() {
        RecordFile.Row row = new RecordFile.Row("we,ird \"q\".py", "sha256=x", "3");
        assertEquals("\"we,ird \"\"q\"\".py\",sha256=x,3\n", RecordFile.format(row));
        assertEquals(List.of(row), RecordFile.parse(RecordFile.format(row)));
    }

    @Test
    void hashFieldsUseUrlsafeBase64WithoutPadding() {
        byte[] data = "hello\n".getBytes(StandardCharsets.UTF_8);
        String field = RecordFile.sha256Field(Hashing.sha256().digest(data));
        assertEquals("sha256=WJG1tSLV3whtD_CxEPvZ0hu0_HFjrzTQgoai6Eb2vgM", field);
        assertTrue(RecordFile.hashMatches(field, data));
        assertFalse(RecordFile.hashMatches(field, new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> RecordFile.hashMatches("md5=abc", data));
        assertThrows(IllegalArgumentException.class, () -> RecordFile.hashMatches("nohash", data));
    }
}

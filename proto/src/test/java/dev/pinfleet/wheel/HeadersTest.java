package dev.pinfleet.wheel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The email-style headers of WHEEL and METADATA. */
class HeadersTest {
    @Test
    void foldedLinesContinueTheirHeaderAndTheBodyIsNotRead() {
        Headers h = Headers.parse("Name: demo\r\nSummary: one\n  two\n\t\nclassifier: a\n: no name\n more\nCLASSIFIER: b\n"
                + "\nBody: not a header\n");
        assertEquals("demo", h.first("name"));
        assertEquals("one two", h.first("Summary"));
        assertEquals("a more", h.first("Classifier"), "a line without a name is no header: its continuation goes on");
        assertEquals(List.of("a more", "b"), h.all("classifier"));
        assertNull(h.first("Body"));
        assertNull(h.first("Version"), "an absent header is null, not empty");
        assertEquals(List.of(), h.all("Version"));
    }
}

package dev.pinfleet.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void readsWhatQuoteWrites() {
        String tricky = "a\"b\\c\nd\te\u0001é";
        Map<String, Object> m = Json.parseFlatObject("{\"s\":" + Json.quote(tricky) + ", \"n\": -12 ,\"t\":true,\"z\":null}");
        Map<String, Object> expected = new LinkedHashMap<>();
        expected.put("s", tricky);
        expected.put("n", -12L);
        expected.put("t", true);
        expected.put("z", null);
        assertEquals(expected, m);
        assertEquals(Map.of(), Json.parseFlatObject(" {} "));
    }

    @Test
    void refusesWhatIsNotAFlatObject() {
        for (String bad : new String[] {"", "[]", "{\"a\":1", "{\"a\":{}}", "{\"a\":1.5}", "{\"a\":1,\"a\":2}",
            "{\"a\":1} x", "{a:1}", "{\"a\":\"\\q\"}", "{\"a\":\"raw\ncontrol\"}"}) {
            assertThrows(IllegalArgumentException.class, () -> Json.parseFlatObject(bad), bad);
        }
    }
}

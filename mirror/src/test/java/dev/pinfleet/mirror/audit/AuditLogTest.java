package dev.pinfleet.mirror.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.mirror.publish.AuditRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
    private static final String SHA = "0123456789abcdef".repeat(4);
    private static final String FILE = "packages/demo-pkg/demo_pkg-1.0-py3-none-any.whl";

    @Test
    void readsLinesWrittenByThePreviousHandWrittenCodec(@TempDir Path mirror) throws Exception {
        // verbatim as AuditRecord wrote them before it used ProtoJson; the second from before upload policies
        Files.writeString(mirror.resolve("audit.log"), String.join("\n",
                "{\"time\":\"2024-05-06T07:08:09.123Z\",\"user\":\"alice\",\"file\":\"" + FILE + "\",\"sha256\":\"" + SHA
                        + "\",\"size\":1234,\"policy\":\"policy-7\"}",
                "{\"time\":\"2024-05-06T07:08:10Z\",\"user\":\"b\\u00f6b \\\"q\\\"\",\"file\":\"" + FILE
                        + "\",\"sha256\":\"" + SHA + "\",\"size\":0}",
                "") + "\n");
        List<AuditLog.Line> lines = AuditLog.read(mirror);
        assertEquals(List.of(
                new AuditLog.Line(1, new AuditRecord(Instant.parse("2024-05-06T07:08:09.123Z"), "alice", FILE, SHA, 1234,
                        "policy-7"), null),
                new AuditLog.Line(2, new AuditRecord(Instant.parse("2024-05-06T07:08:10Z"), "böb \"q\"", FILE, SHA, 0, ""),
                        null)), lines);
    }

    @Test
    void writesTheSameLineShapeAndReadsItBack() {
        AuditRecord r = new AuditRecord(Instant.parse("2024-05-06T07:08:09.123456789Z"), "alice", FILE, SHA, 1234, "1");
        assertEquals("{\"time\":\"2024-05-06T07:08:09.123456789Z\",\"user\":\"alice\",\"file\":\"" + FILE
                + "\",\"sha256\":\"" + SHA + "\",\"size\":1234,\"policy\":\"1\"}\n", r.toJsonLine());
        assertEquals(r, AuditLog.parse(r.toJsonLine().strip()));
        AuditRecord empty = new AuditRecord(Instant.parse("2024-05-06T07:08:09Z"), "a\nb", FILE, SHA, 0, "");
        assertTrue(empty.toJsonLine().contains("\"size\":0"), "an empty file's size is written: " + empty.toJsonLine());
        assertEquals(1, empty.toJsonLine().lines().count(), "one line, whatever the user name holds");
        assertEquals(empty, AuditLog.parse(empty.toJsonLine().strip()));
        AuditRecord refused = new AuditRecord(Instant.parse("2024-05-06T07:08:09Z"), "alice", FILE, SHA, 9, "1",
                "x.whl: entry 'x/l': symbolic link entries are not allowed");
        assertTrue(refused.toJsonLine().contains(",\"refused\":\"x.whl: entry 'x/l'"), refused.toJsonLine());
        assertEquals(refused, AuditLog.parse(refused.toJsonLine().strip()));
        assertTrue(refused.isRefusal() && !r.isRefusal());
        assertFalse(r.toJsonLine().contains("refused"), "a publish line keeps its shape");
    }

    @Test
    void aBadLineSaysWhyAndDoesNotHideTheOthers(@TempDir Path mirror) throws Exception {
        String good = new AuditRecord(Instant.parse("2024-05-06T07:08:09Z"), "alice", FILE, SHA, 1, "1").toJsonLine();
        String noSize = "{\"time\":\"2024-05-06T07:08:09Z\",\"user\":\"alice\",\"file\":\"" + FILE + "\",\"sha256\":\"" + SHA + "\"}";
        Files.writeString(mirror.resolve("audit.log"), "not json\n" + noSize + "\n" + good);
        List<AuditLog.Line> lines = AuditLog.read(mirror);
        assertEquals(3, lines.size());
        assertNull(lines.get(0).record());
        assertTrue(lines.get(0).error().startsWith("not an audit line: "), lines.get(0).error());
        assertEquals("field size is missing, not a non-negative integer", lines.get(1).error());
        assertEquals(3, lines.get(2).line());
        assertEquals("alice", lines.get(2).record().user());
        for (String[] bad : new String[][] {
            {"{\"time\":\"yesterday\",\"user\":\"a\",\"file\":\"" + FILE + "\",\"sha256\":\"" + SHA + "\",\"size\":1}", "not an audit line"},
            {"{\"user\":\"a\",\"file\":\"" + FILE + "\",\"sha256\":\"" + SHA + "\",\"size\":1}", "field time is missing"},
            {"{\"time\":\"2024-05-06T07:08:09Z\",\"user\":\"a\",\"file\":\"../x\",\"sha256\":\"" + SHA + "\",\"size\":1}", "field file:"},
            {"{\"time\":\"2024-05-06T07:08:09Z\",\"user\":\"a\",\"file\":\"" + FILE + "\",\"sha256\":\"ABC\",\"size\":1}", "field sha256 'ABC'"},
            {"{\"time\":\"2024-05-06T07:08:09Z\",\"user\":\"a\",\"file\":\"" + FILE + "\",\"sha256\":\"" + SHA + "\",\"size\":-1}", "field size is -1"},
            {"{\"time\":\"2024-05-06T07:08:09Z\",\"user\":\"a\",\"file\":\"" + FILE + "\",\"sha256\":\"" + SHA + "\",\"size\":1,\"x\":1}", "not an audit line"},
        }) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AuditLog.parse(bad[0]), bad[0]);
            assertTrue(e.getMessage().startsWith(bad[1]), e.getMessage());
        }
    }
}

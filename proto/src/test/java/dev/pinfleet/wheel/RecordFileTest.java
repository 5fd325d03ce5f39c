package dev.pinfleet.wheel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecordFileTest {
    /** Inputs where a careless CSV reader goes wrong; each is compared with Python's own csv module. */
    private static final List<String> TRICKY = List.of(
            "a/b.py,sha256=abc,12\r\n\"we,ird \"\"name\"\".py\",,\n\nx-1.dist-info/RECORD,,\nshort\n",
            "a\"b,c\n",
            "\"a\"b,c\n",
            "\"a",
            "\"x\r\ny\",1,2\r\n",
            "\r\n\n\r",
            "\"\"\n",
            " \n",
            "a,b,\n",
            "\"\",x\n",
            "\"\"\"\",x",
            "a\rb,c",
            "a,b\r\r\nc",
            "a,\"b\n",
            ",h,1\n",
            "a,b,c,d\n",
            "\"a\"\"b\"c\"d\",1",
            "last,sha256=x,1",
            "pkg/h\u00e9llo.py,sha256=x,3\n");

    /** Rows for the writers; every quoting rule is exercised. */
    private static final List<RecordFile.Row> TO_WRITE = List.of(
            new RecordFile.Row("a/b.py", "sha256=abc", "12"),
            new RecordFile.Row("we,ird \"q\".py", "sha256=x", "3"),
            new RecordFile.Row("line\nbreak.py", "", ""),
            new RecordFile.Row(" lead space;semi'quote", "", ""),
            new RecordFile.Row("h\u00e9llo/\u00fc.py", "sha256=y", "0"),
            new RecordFile.Row("x-1.dist-info/RECORD", "", ""));

    /** Inputs for python3 and what it wrote; see {@link #askPython()}. */
    @TempDir
    static Path python;

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
    void quoteInsideAnUnquotedFieldIsAnOrdinaryCharacter() {
        assertEquals(List.of(new RecordFile.Row("a\"b", "c", "")), RecordFile.parse("a\"b,c\n"));
        assertEquals(List.of(new RecordFile.Row("ab", "c", "")), RecordFile.parse("\"a\"b,c\n"));
    }

    @Test
    void lineBreaksInsideQuotesStayAndEveryLineEndEndsARecord() {
        assertEquals(List.of(new RecordFile.Row("x\r\ny", "1", "2"), new RecordFile.Row("a", "", ""),
                new RecordFile.Row("b", "c", "")), RecordFile.parse("\"x\r\ny\",1,2\r\na\rb,c"));
        assertEquals(List.of(), RecordFile.parse("\r\n\n\r\"\"\n"));
    }

    @Test
    void parsesBytesAsUtf8() {
        assertEquals(List.of(new RecordFile.Row("pkg/h\u00e9llo.py", "sha256=x", "3")),
                RecordFile.parse("pkg/h\u00e9llo.py,sha256=x,3\r\n".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void parsesEveryTrickyInputAsPythonsCsvModuleDoes() throws Exception {
        String[] expected = Files.readString(python.resolve("parsed"), StandardCharsets.UTF_8).split("\u001d", -1);
        assertEquals(TRICKY.size() + 1, expected.length);
        for (int i = 0; i < TRICKY.size(); i++) {
            List<RecordFile.Row> rows = RecordFile.parse(Files.readAllBytes(python.resolve("in" + i)));
            assertEquals(expected[i], encode(rows), "input " + i + ": " + TRICKY.get(i).replace("\r", "\\r")
                    .replace("\n", "\\n"));
        }
    }

    @Test
    void aQuotedFieldMayEndTheText() {
        assertEquals(List.of(new RecordFile.Row("a", "sha256=x", "5")), RecordFile.parse("a,sha256=x,\"5\""));
    }

    @Test
    void aFieldStartingWithASpecialCharacterIsQuoted() {
        for (String path : List.of(",a", "\"a", "\na", "\ra")) {
            RecordFile.Row row = new RecordFile.Row(path, "sha256=x", "1");
            assertEquals("\"" + path.replace("\"", "\"\"") + "\",sha256=x,1\n", RecordFile.format(row));
            assertEquals(List.of(row), RecordFile.parse(RecordFile.format(row)));
        }
    }

    @Test
    void aHashFieldNeedsAnAlgorithmBeforeItsEqualsSign() {
        assertEquals("RECORD hash '=abc' is not algorithm=digest",
                assertThrows(IllegalArgumentException.class, () -> RecordFile.algorithm("=abc")).getMessage());
        assertEquals("RECORD hash 'abc' is not algorithm=digest",
                assertThrows(IllegalArgumentException.class, () -> RecordFile.algorithm("abc")).getMessage());
    }

    @Test
    void formatQuotesLikePythonAndRoundTrips() {
        RecordFile.Row row = new RecordFile.Row("we,ird \"q\".py", "sha256=x", "3");
        assertEquals("\"we,ird \"\"q\"\".py\",sha256=x,3\n", RecordFile.format(row));
        assertEquals(List.of(row), RecordFile.parse(RecordFile.format(row)));
    }

    @Test
    void writeEndsLinesWithCrlfAsPipDoesAndRoundTrips() {
        List<RecordFile.Row> rows = List.of(new RecordFile.Row("a/b.py", "sha256=abc", "12"),
                new RecordFile.Row("we,ird \"q\".py", "sha256=x", "3"), new RecordFile.Row("x-1.dist-info/RECORD", "", ""));
        assertEquals("a/b.py,sha256=abc,12\r\n\"we,ird \"\"q\"\".py\",sha256=x,3\r\nx-1.dist-info/RECORD,,\r\n",
                new String(RecordFile.write(rows), StandardCharsets.UTF_8));
        assertEquals(rows, RecordFile.parse(RecordFile.write(rows)));
        assertEquals(TO_WRITE, RecordFile.parse(RecordFile.write(TO_WRITE)));
        assertArrayEquals(new byte[0], RecordFile.write(List.of()));
    }

    @Test
    void writesTheBytesOfPythonsCsvWriter() throws Exception {
        assertArrayEquals(Files.readAllBytes(python.resolve("pip")), RecordFile.write(TO_WRITE));
        StringBuilder lf = new StringBuilder();
        TO_WRITE.forEach(r -> lf.append(RecordFile.format(r)));
        assertEquals(Files.readString(python.resolve("wheel"), StandardCharsets.UTF_8), lf.toString());
    }

    @Test
    void formatQuotesACarriageReturnThatPythonsLfWriterWouldLeaveBare() {
        // csv.writer(lineterminator="\n") leaves "\r" unquoted, which its own reader then splits; quoting keeps the row.
        RecordFile.Row row = new RecordFile.Row("cr\rhere", "", "");
        assertEquals("\"cr\rhere\",,\n", RecordFile.format(row));
        assertEquals(List.of(row), RecordFile.parse(RecordFile.format(row)));
    }

    @Test
    void hashesByPathMapsEveryRowAndTheLaterDuplicateWins() {
        Map<String, String> hashes = RecordFile.hashesByPath(RecordFile.parse(
                "a.py,sha256=one,1\nb.py,,\na.py,sha256=two,1\nx-1.dist-info/RECORD,,\n"));
        assertEquals(Map.of("a.py", "sha256=two", "b.py", "", "x-1.dist-info/RECORD", ""), hashes);
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

    @Test
    void otherAcceptedAlgorithmsAndMalformedFieldsAreNamed() {
        byte[] data = "hello\n".getBytes(StandardCharsets.UTF_8);
        for (String algo : List.of("sha384", "sha512")) {
            String field = algo + "=" + java.util.Base64.getUrlEncoder().withoutPadding()
                    .encodeToString(RecordFile.digestFor(algo + "=").digest(data));
            assertTrue(RecordFile.hashMatches(field, data), field);
        }
        IllegalArgumentException sha1 = assertThrows(IllegalArgumentException.class, () -> RecordFile.digestFor("sha1=x"));
        assertEquals("RECORD hash algorithm 'sha1' is not accepted", sha1.getMessage());
        IllegalArgumentException b64 = assertThrows(IllegalArgumentException.class,
                () -> RecordFile.matches("sha256=not*base64", new byte[32]));
        assertEquals("RECORD hash 'sha256=not*base64' is not urlsafe base64", b64.getMessage());
    }

    private static String encode(List<RecordFile.Row> rows) {
        List<String> lines = new ArrayList<>();
        for (RecordFile.Row r : rows) {
            lines.add(r.path() + "\u001f" + r.hash() + "\u001f" + r.size());
        }
        return String.join("\u001e", lines);
    }

    /**
     * Lets the machine's python3 (one process, bounded in time) read every {@link #TRICKY} input into
     * {@code parsed} and write {@link #TO_WRITE} as pip ({@code pip}: csv.writer's defaults) and as the wheel
     * package ({@code wheel}: LF line ends) do.
     */
    @BeforeAll
    static void askPython() throws IOException, InterruptedException {
        for (int i = 0; i < TRICKY.size(); i++) {
            Files.writeString(python.resolve("in" + i), TRICKY.get(i), StandardCharsets.UTF_8);
        }
        StringBuilder fields = new StringBuilder();
        for (RecordFile.Row r : TO_WRITE) {
            fields.append(r.path()).append('\u001f').append(r.hash()).append('\u001f').append(r.size()).append('\u001e');
        }
        Files.writeString(python.resolve("rows"), fields, StandardCharsets.UTF_8);
        Path script = Files.writeString(python.resolve("script.py"), """
                import csv, sys
                d, n = sys.argv[1], int(sys.argv[2])
                with open(f"{d}/parsed", "w", encoding="utf-8", newline="") as out:
                    for i in range(n):
                        with open(f"{d}/in{i}", encoding="utf-8", newline="") as f:
                            rows = [(r + ["", ""])[:3] for r in csv.reader(f) if r and r != [""]]
                        out.write("\\x1e".join("\\x1f".join(r) for r in rows) + "\\x1d")
                with open(f"{d}/rows", encoding="utf-8", newline="") as f:
                    rows = [r.split("\\x1f") for r in f.read().split("\\x1e") if r]
                with open(f"{d}/pip", "w", encoding="utf-8", newline="") as f:
                    csv.writer(f).writerows(rows)
                with open(f"{d}/wheel", "w", encoding="utf-8", newline="") as f:
                    csv.writer(f, delimiter=",", quotechar='"', lineterminator="\\n").writerows(rows)
                """);
        Path err = python.resolve("python.err");
        Process p = new ProcessBuilder("python3", "-I", script.toString(), python.toString(),
                Integer.toString(TRICKY.size())).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(err.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("python3 " + script + " did not finish within 60 s");
        }
        if (p.exitValue() != 0) {
            throw new AssertionError("python3 " + script + " exited " + p.exitValue() + ": " + Files.readString(err));
        }
    }
}

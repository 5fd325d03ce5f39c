package dev.pinfleet.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The line files (uploaders, tokens, host lists): what counts as a record, and where an error points. */
class LineFileTest {
    @TempDir Path dir;

    @Test
    void commentsAndBlankLinesAreSkippedAndEachRecordKeepsItsLineNumber() throws Exception {
        Path f = Files.writeString(dir.resolve("uploaders"),
                "# who signed off\n\n   \nalice 1 2024-05-06T07:08:09Z\n  # indented comment\n\tbob\t 2  \n#\n");
        List<LineFile.Line> lines = LineFile.read(f);
        assertEquals(List.of(new LineFile.Line(f, 4, "alice 1 2024-05-06T07:08:09Z"), new LineFile.Line(f, 6, "bob\t 2")),
                lines);
        assertArrayEquals(new String[] {"bob", "2"}, lines.get(1).fields(), "fields split on runs of white space");
        assertEquals(f + ":6", lines.get(1).where());
    }

    @Test
    void aMissingFileIsTheCallersToJudge() {
        assertThrows(NoSuchFileException.class, () -> LineFile.read(dir.resolve("tokens")));
    }
}

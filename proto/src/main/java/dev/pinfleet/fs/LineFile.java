package dev.pinfleet.fs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The one reader of the project's line files (the mirror's {@code uploaders}, upload tokens and policy version,
 * host lists): UTF-8, one record per line, surrounding white space stripped, blank lines and lines starting with
 * '#' skipped, fields separated by runs of white space. Each line keeps its number, so an error can name
 * {@code file:line}.
 */
public final class LineFile {
    private LineFile() {}

    /**
     * One content line.
     *
     * @param number its 1-based line number in the file
     * @param text   the line, stripped
     */
    public record Line(Path file, int number, String text) {
        /** The white-space separated fields of the line. */
        public String[] fields() {
            return text.split("\\s+");
        }

        /** {@code file:line}, for messages. */
        public String where() {
            return file + ":" + number;
        }
    }

    /**
     * The content lines of {@code file}, in order.
     *
     * @throws java.nio.file.NoSuchFileException when the file does not exist (callers decide whether that is fine)
     */
    public static List<Line> read(Path file) throws IOException {
        List<String> raw = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Line> out = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            String text = raw.get(i).strip();
            if (!text.isEmpty() && !text.startsWith("#")) {
                out.add(new Line(file, i + 1, text));
            }
        }
        return out;
    }
}

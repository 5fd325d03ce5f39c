package dev.pinfleet.mirror.audit;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.Json;
import dev.pinfleet.mirror.publish.AuditRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads a mirror's {@code audit.log} (see {@link AuditRecord}): each non-blank line is either a valid record
 * or a reason why it is not, so one damaged line never hides the others.
 */
public final class AuditLog {
    private AuditLog() {}

    /**
     * One line of the log.
     *
     * @param line   its line number (1-based)
     * @param record the record, or null when the line is malformed
     * @param error  why the line is malformed, or null
     */
    public record Line(int line, AuditRecord record, String error) {}

    /** Every non-blank line of {@code DIR/audit.log}, in order; empty when there is no log. */
    public static List<Line> read(Path mirror) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(mirror.resolve(AuditRecord.FILE_NAME), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return List.of();
        }
        List<Line> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String text = lines.get(i);
            if (text.isBlank()) {
                continue;
            }
            try {
                out.add(new Line(i + 1, parse(text), null));
            } catch (IllegalArgumentException e) {
                out.add(new Line(i + 1, null, e.getMessage()));
            }
        }
        return out;
    }

    /**
     * Parses one JSON line as {@link AuditRecord#toJsonLine()} writes it.
     *
     * @throws IllegalArgumentException naming the missing or malformed field
     */
    public static AuditRecord parse(String line) {
        Map<String, Object> m = Json.parseFlatObject(line);
        String time = string(m, "time");
        String user = string(m, "user");
        String file = string(m, "file");
        String sha = string(m, "sha256");
        Object size = m.get("size");
        Object policy = m.getOrDefault("policy", "");
        if (!(size instanceof Long s) || s < 0) {
            throw new IllegalArgumentException("field size is not a non-negative integer");
        }
        if (!(policy instanceof String p)) {
            throw new IllegalArgumentException("field policy is not a string");
        }
        if (!Hashing.isSha256Hex(sha)) {
            throw new IllegalArgumentException("field sha256 '" + Names.printable(sha) + "' is not 64 lowercase hex");
        }
        String why = Names.checkRelativePath(file);
        if (why != null) {
            throw new IllegalArgumentException("field file: " + why);
        }
        Instant t;
        try {
            t = Instant.parse(time);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("field time '" + Names.printable(time) + "' is not RFC 3339 UTC");
        }
        return new AuditRecord(t, user, file, sha, s, p);
    }

    private static String string(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("field " + key + (v == null ? " is missing" : " is not a string"));
        }
        return s;
    }
}

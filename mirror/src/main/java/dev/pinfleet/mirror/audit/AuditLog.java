package dev.pinfleet.mirror.audit;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.publish.AuditRecord;
import dev.pinfleet.proto.v1.AuditEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

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
     * Parses one JSON line as {@link AuditRecord#toJsonLine()} writes it (or as the mirror wrote it before it used
     * {@link ProtoJson}: the same keys, numbers as numbers or strings).
     *
     * @throws IllegalArgumentException naming the missing or malformed field
     */
    public static AuditRecord parse(String line) {
        AuditEntry e;
        try {
            e = ProtoJson.parse(line, AuditEntry.newBuilder()).build();
        } catch (InvalidProtocolBufferException x) {
            throw new IllegalArgumentException("not an audit line: " + x.getMessage());
        }
        if (!e.hasTime()) {
            throw new IllegalArgumentException("field time is missing");
        }
        if (e.getUser().isEmpty()) {
            throw new IllegalArgumentException("field user is missing");
        }
        if (!e.hasSize() || e.getSize() < 0) {
            throw new IllegalArgumentException("field size is " + (e.hasSize() ? e.getSize() : "missing")
                    + ", not a non-negative integer");
        }
        if (!Hashing.isSha256Hex(e.getSha256())) {
            throw new IllegalArgumentException("field sha256 '" + Names.printable(e.getSha256())
                    + "' is not 64 lowercase hex");
        }
        String why = Names.checkRelativePath(e.getFile());
        if (why != null) {
            throw new IllegalArgumentException("field file: " + why);
        }
        Instant t = Instant.ofEpochSecond(e.getTime().getSeconds(), e.getTime().getNanos());
        return new AuditRecord(t, e.getUser(), e.getFile(), e.getSha256(), e.getSize(), e.getPolicy(), e.getRefused(), e.getSource());
    }
}

package dev.pinfleet.agent.install;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The wheel {@code RECORD} file: CSV rows of path, {@code sha256=<urlsafe base64, unpadded>}, size. */
final class RecordFile {
    private RecordFile() {}

    /** One row; {@code hash} and {@code size} are empty for RECORD itself. */
    record Row(String path, String hash, String size) {}

    /** The RECORD form of a SHA-256 digest. */
    static String hash(byte[] sha256) {
        return "sha256=" + Base64.getUrlEncoder().withoutPadding().encodeToString(sha256);
    }

    /** Path → hash column ("sha256=…", possibly empty) of every row, parsed as Python's csv module does. */
    static Map<String, String> parse(byte[] content) {
        Map<String, String> out = new HashMap<>();
        for (List<String> fields : parseCsv(new String(content, StandardCharsets.UTF_8))) {
            if (!fields.isEmpty() && !fields.get(0).isEmpty()) {
                out.put(fields.get(0), fields.size() > 1 ? fields.get(1) : "");
            }
        }
        return out;
    }

    /** CSV bytes as pip writes them: minimal quoting, CRLF line ends. */
    static byte[] write(List<Row> rows) {
        StringBuilder b = new StringBuilder(rows.size() * 96);
        for (Row r : rows) {
            b.append(quote(r.path())).append(',').append(quote(r.hash())).append(',').append(quote(r.size())).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String quote(String field) {
        if (field.indexOf(',') < 0 && field.indexOf('"') < 0 && field.indexOf('\n') < 0 && field.indexOf('\r') < 0) {
            return field;
        }
        return '"' + field.replace("\"", "\"\"") + '"';
    }

    private static List<List<String>> parseCsv(String s) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < s.length() && s.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
                any = true;
            } else if (c == ',') {
                row.add(field.toString());
                field.setLength(0);
                any = true;
            } else if (c == '\n' || c == '\r') {
                if (any || field.length() > 0) {
                    row.add(field.toString());
                    rows.add(row);
                }
                row = new ArrayList<>();
                field.setLength(0);
                any = false;
            } else {
                field.append(c);
                any = true;
            }
        }
        if (any || field.length() > 0) {
            row.add(field.toString());
            rows.add(row);
        }
        return rows;
    }
}

package dev.pinfleet.wheel;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A wheel's {@code RECORD}: CSV rows of (path, hash, size), shared by the mirror (packing and publishing
 * wheels) and the agent (checking and installing them).
 *
 * <p>Reading follows Python's {@code csv.reader} over the text opened with {@code newline=''} (the default
 * dialect, not strict): a field that starts with {@code "} is quoted and may hold commas, line breaks and
 * doubled quotes; a {@code "} inside an unquoted field is an ordinary character; text after a closing quote
 * joins the field; a record ends at CR, LF or CRLF; blank lines are no rows.
 *
 * <p>Writing quotes a field only when it holds a comma, a quote or a line break (quotes doubled), as
 * Python's {@code csv.writer} does by default. Two line ends exist in the wild and both are kept:
 * {@link #format(Row)} ends a line with LF, as the {@code wheel} package writes a built wheel's RECORD;
 * {@link #write(List)} ends every line with CRLF, as pip writes the RECORD of an installed distribution.
 *
 * <p>Hash fields have the form {@code algorithm=<urlsafe base64, unpadded>}; {@link #sha256Field} makes one.
 */
public final class RecordFile {
    private RecordFile() {}

    /**
     * One row.
     *
     * @param path a '/'-separated path relative to the archive (or site-packages) root
     * @param hash {@code algorithm=urlsafe-base64-nopad}, or empty (for RECORD itself, or bytecode)
     * @param size the size in bytes as written, or empty
     */
    public record Row(String path, String hash, String size) {}

    /** Parses RECORD bytes decoded as UTF-8 (malformed sequences become U+FFFD); see {@link #parse(String)}. */
    public static List<Row> parse(byte[] utf8) {
        return parse(new String(utf8, StandardCharsets.UTF_8));
    }

    /**
     * Parses RECORD text as Python's csv module reads it. Blank lines and rows of a single empty field are
     * skipped; missing trailing fields are empty; fields after the third are ignored.
     */
    public static List<Row> parse(String text) {
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>(3);
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean inRecord = false;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c != '"') {
                    field.append(c);
                } else if (i + 1 < n && text.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else {
                    quoted = false;
                }
            } else if (c == '"' && field.length() == 0) {
                // A quote opens a quoted field only at the field's start; elsewhere it is an ordinary character.
                quoted = true;
                inRecord = true;
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
                inRecord = true;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
                    i++;
                }
                endRecord(rows, fields, field, inRecord);
                inRecord = false;
            } else {
                field.append(c);
                inRecord = true;
            }
        }
        endRecord(rows, fields, field, inRecord);
        return rows;
    }

    private static void endRecord(List<Row> rows, List<String> fields, StringBuilder field, boolean inRecord) {
        if (inRecord) {
            fields.add(field.toString());
        }
        field.setLength(0);
        if (!fields.isEmpty() && !(fields.size() == 1 && fields.get(0).isEmpty())) {
            rows.add(new Row(fields.get(0), fields.size() > 1 ? fields.get(1) : "",
                    fields.size() > 2 ? fields.get(2) : ""));
        }
        fields.clear();
    }

    /** Path → hash field (possibly empty) of each row; when a path is listed twice, the later row wins. */
    public static Map<String, String> hashesByPath(List<Row> rows) {
        Map<String, String> out = new HashMap<>(rows.size() * 2);
        for (Row r : rows) {
            out.put(r.path(), r.hash());
        }
        return out;
    }

    /** One CSV line for a row, ended by LF as the {@code wheel} package writes a built wheel's RECORD. */
    public static String format(Row row) {
        StringBuilder b = new StringBuilder(row.path().length() + 64);
        appendRow(b, row);
        return b.append('\n').toString();
    }

    /** The UTF-8 bytes of rows as pip writes an installed distribution's RECORD: every line ended by CRLF. */
    public static byte[] write(List<Row> rows) {
        StringBuilder b = new StringBuilder(rows.size() * 96);
        for (Row r : rows) {
            appendRow(b, r).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static StringBuilder appendRow(StringBuilder b, Row row) {
        return appendField(appendField(appendField(b, row.path()).append(','), row.hash()).append(','), row.size());
    }

    private static StringBuilder appendField(StringBuilder b, String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return b.append(s);
        }
        return b.append('"').append(s.replace("\"", "\"\"")).append('"');
    }

    /** The {@code sha256=<urlsafe-b64-nopad>} hash field for a SHA-256 digest. */
    public static String sha256Field(byte[] digest) {
        return "sha256=" + Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    }

    /**
     * The JDK name of the algorithm of a {@code algo=b64} hash field. Only sha256, sha384 and sha512 are
     * accepted (the wheel spec refuses md5 and sha1).
     *
     * @throws IllegalArgumentException naming the field when it is malformed or uses a refused algorithm
     */
    public static String algorithm(String hashField) {
        if (hashField.startsWith("sha256=")) {
            return "SHA-256";
        }
        int eq = hashField.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("RECORD hash '" + hashField + "' is not algorithm=digest");
        }
        String algo = hashField.substring(0, eq);
        return switch (algo) {
            case "sha384" -> "SHA-384";
            case "sha512" -> "SHA-512";
            default -> throw new IllegalArgumentException("RECORD hash algorithm '" + algo + "' is not accepted");
        };
    }

    /**
     * A fresh digest for the algorithm of a {@code algo=b64} hash field ({@link #algorithm}).
     *
     * @throws IllegalArgumentException naming the field when it is malformed or uses a refused algorithm
     */
    public static MessageDigest digestFor(String hashField) {
        String jdkName = algorithm(hashField);
        try {
            return MessageDigest.getInstance(jdkName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + jdkName, e);
        }
    }

    /**
     * True when {@code hashField} ({@code algo=b64}) names {@code digest}.
     *
     * @throws IllegalArgumentException naming the field when its base64 part is malformed
     */
    public static boolean matches(String hashField, byte[] digest) {
        byte[] expected;
        try {
            expected = Base64.getUrlDecoder().decode(hashField.substring(hashField.indexOf('=') + 1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("RECORD hash '" + hashField + "' is not urlsafe base64", e);
        }
        return MessageDigest.isEqual(expected, digest);
    }

    /**
     * True when {@code hashField} matches {@code data}.
     *
     * @throws IllegalArgumentException as {@link #digestFor(String)} and {@link #matches(String, byte[])} do
     */
    public static boolean hashMatches(String hashField, byte[] data) {
        return matches(hashField, digestFor(hashField).digest(data));
    }
}

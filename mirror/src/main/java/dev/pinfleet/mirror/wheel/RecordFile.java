package dev.pinfleet.mirror.wheel;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A wheel's {@code RECORD}: CSV rows of (path, hash, size) as Python's {@code csv} module writes and
 * reads them (fields quoted with {@code "} when they hold a comma, quote or line break; quotes doubled).
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

    /** Parses RECORD text; blank lines are skipped, missing trailing fields are empty. */
    public static List<Row> parse(String text) {
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean fieldStarted = false;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < n && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    field.append(c);
                }
            } else if (c == '"' && field.length() == 0) {
                quoted = true;
                fieldStarted = true;
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
                fieldStarted = true;
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n') {
                    i++;
                }
                endRow(rows, fields, field, fieldStarted);
                fieldStarted = false;
            } else {
                field.append(c);
                fieldStarted = true;
            }
        }
        endRow(rows, fields, field, fieldStarted);
        return rows;
    }

    private static void endRow(List<Row> rows, List<String> fields, StringBuilder field, boolean started) {
        if (started || !fields.isEmpty()) {
            fields.add(field.toString());
        }
        field.setLength(0);
        if (!fields.isEmpty() && !(fields.size() == 1 && fields.get(0).isEmpty())) {
            rows.add(new Row(fields.get(0), fields.size() > 1 ? fields.get(1) : "",
                    fields.size() > 2 ? fields.get(2) : ""));
        }
        fields.clear();
    }

    /** One CSV line (with a trailing '\n') for a row, quoting fields as Python's csv module does. */
    public static String format(Row row) {
        return quote(row.path()) + "," + quote(row.hash()) + "," + quote(row.size()) + "\n";
    }

    /** The {@code sha256=<urlsafe-b64-nopad>} hash field for a SHA-256 digest. */
    public static String sha256Field(byte[] digest) {
        return "sha256=" + Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    }

    /**
     * A fresh digest for the algorithm of a {@code algo=b64} hash field. Only sha256, sha384 and sha512 are
     * accepted (the wheel spec refuses md5 and sha1).
     *
     * @throws IllegalArgumentException naming the field when it is malformed or uses a refused algorithm
     */
    public static MessageDigest digestFor(String hashField) {
        int eq = hashField.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("RECORD hash '" + hashField + "' is not algorithm=digest");
        }
        String algo = hashField.substring(0, eq);
        String jdkName = switch (algo) {
            case "sha256" -> "SHA-256";
            case "sha384" -> "SHA-384";
            case "sha512" -> "SHA-512";
            default -> throw new IllegalArgumentException("RECORD hash algorithm '" + algo + "' is not accepted");
        };
        try {
            return MessageDigest.getInstance(jdkName);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + jdkName, e);
        }
    }

    /**
     * True when {@code hashField} ({@code algo=b64}) names {@code digest}.
     *
     * @throws IllegalArgumentException when the base64 part is malformed
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

    /** True when {@code hashField} matches {@code data}; see {@link #digestFor(String)}. */
    public static boolean hashMatches(String hashField, byte[] data) {
        return matches(hashField, digestFor(hashField).digest(data));
    }

    private static String quote(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}

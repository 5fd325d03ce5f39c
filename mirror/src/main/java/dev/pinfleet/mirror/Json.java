package dev.pinfleet.mirror;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The JSON the mirror needs: string literals escaped per RFC 8259, and a reader for the flat objects it
 * writes itself (audit log lines, upload responses): string, integer, boolean and null values only.
 */
public final class Json {
    private Json() {}

    /** {@code s} as a quoted JSON string; see {@link dev.pinfleet.manifest.JsonStrings#quote}. */
    public static String quote(String s) {
        return dev.pinfleet.manifest.JsonStrings.quote(s);
    }

    /**
     * Parses one flat JSON object: {@code {"key": value, ...}} where each value is a string, an integer
     * (returned as {@link Long}), {@code true}/{@code false} or {@code null}. Nested objects, arrays and
     * fractions are refused; so are duplicate keys and trailing text.
     *
     * @throws IllegalArgumentException saying what is wrong and at which character
     */
    public static Map<String, Object> parseFlatObject(String text) {
        return new FlatParser(text).object();
    }

    private static final class FlatParser {
        private final String s;
        private int i;

        FlatParser(String s) {
            this.s = s;
        }

        Map<String, Object> object() {
            Map<String, Object> out = new LinkedHashMap<>();
            space();
            expect('{');
            space();
            if (peek() == '}') {
                i++;
            } else {
                while (true) {
                    space();
                    String key = string();
                    space();
                    expect(':');
                    space();
                    Object value = value();
                    if (out.put(key, value) != null) {
                        throw error("duplicate key " + quote(key));
                    }
                    space();
                    char c = next();
                    if (c == '}') {
                        break;
                    }
                    if (c != ',') {
                        throw error("expected ',' or '}'");
                    }
                }
            }
            space();
            if (i != s.length()) {
                throw error("unexpected text after the object");
            }
            return out;
        }

        private Object value() {
            char c = peek();
            if (c == '"') {
                return string();
            }
            if (c == '-' || (c >= '0' && c <= '9')) {
                int start = i;
                if (c == '-') {
                    i++;
                }
                while (i < s.length() && Character.isDigit(s.charAt(i))) {
                    i++;
                }
                if (i < s.length() && (s.charAt(i) == '.' || s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
                    throw error("only integers are accepted");
                }
                try {
                    return Long.parseLong(s.substring(start, i));
                } catch (NumberFormatException e) {
                    throw error("not an integer: " + s.substring(start, i));
                }
            }
            for (String word : new String[] {"true", "false", "null"}) {
                if (s.startsWith(word, i)) {
                    i += word.length();
                    return word.equals("null") ? null : Boolean.valueOf(word);
                }
            }
            throw error("expected a string, integer, true, false or null");
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') {
                    return b.toString();
                }
                if (c < 0x20) {
                    throw error("raw control character in a string");
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case '"', '\\', '/' -> b.append(e);
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> {
                        if (i + 4 > s.length()) {
                            throw error("truncated \\u escape");
                        }
                        try {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw error("malformed \\u escape");
                        }
                        i += 4;
                    }
                    default -> throw error("unknown escape \\" + e);
                }
            }
        }

        private void space() {
            while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\n'
                    || s.charAt(i) == '\r')) {
                i++;
            }
        }

        private char peek() {
            if (i >= s.length()) {
                throw error("unexpected end of text");
            }
            return s.charAt(i);
        }

        private char next() {
            char c = peek();
            i++;
            return c;
        }

        private void expect(char c) {
            if (next() != c) {
                i--;
                throw error("expected '" + c + "'");
            }
        }

        private IllegalArgumentException error(String why) {
            return new IllegalArgumentException("not a flat JSON object: " + why + " at character " + (i + 1));
        }
    }
}

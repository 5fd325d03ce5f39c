package dev.pinfleet.wheel;

import java.util.ArrayList;
import java.util.List;

/**
 * The RFC 822 style header block of a wheel's {@code METADATA} and {@code WHEEL} files: {@code Name: value}
 * lines up to the first blank line, continuation lines (starting with a space or tab) folded into the header
 * before them with a single space, header names matched case-insensitively.
 *
 * @param fields the headers in file order, as (name as written, value stripped) pairs
 */
public record Headers(List<Field> fields) {

    /** One header. */
    public record Field(String name, String value) {}

    public Headers {
        fields = List.copyOf(fields);
    }

    /** Parses the header block of {@code text}; lines without a colon are ignored. */
    public static Headers parse(String text) {
        List<String[]> out = new ArrayList<>();
        for (String line : text.split("\r\n|\n|\r", -1)) {
            if (line.isEmpty()) {
                break;
            }
            if (line.charAt(0) == ' ' || line.charAt(0) == '\t') {
                if (!out.isEmpty()) {
                    String[] last = out.get(out.size() - 1);
                    String more = line.strip();
                    last[1] = last[1].isEmpty() ? more : more.isEmpty() ? last[1] : last[1] + " " + more;
                }
                continue;
            }
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.add(new String[] {line.substring(0, colon).strip(), line.substring(colon + 1).strip()});
            }
        }
        List<Field> fields = new ArrayList<>(out.size());
        for (String[] f : out) {
            fields.add(new Field(f[0], f[1]));
        }
        return new Headers(fields);
    }

    /** The value of the first header called {@code name} (any case), or null. */
    public String first(String name) {
        for (Field f : fields) {
            if (f.name().equalsIgnoreCase(name)) {
                return f.value();
            }
        }
        return null;
    }

    /** The values of every header called {@code name} (any case), in order. */
    public List<String> all(String name) {
        List<String> out = new ArrayList<>();
        for (Field f : fields) {
            if (f.name().equalsIgnoreCase(name)) {
                out.add(f.value());
            }
        }
        return out;
    }
}

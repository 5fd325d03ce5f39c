package dev.pinfleet.wheel;

import dev.pinfleet.manifest.Names;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code console_scripts} and {@code gui_scripts} from a wheel's {@code entry_points.txt}: each becomes a
 * launcher {@code bin/<name>} when installed, so a name must be a plain file name.
 */
public final class EntryPoints {
    private EntryPoints() {}

    private static final Pattern TARGET = Pattern.compile(
            "([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)\\s*:\\s*([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)"
                    + "\\s*(?:\\[[^\\]]*\\])?");

    /** One script entry point: {@code name = module:attr}. */
    public record Script(String name, String module, String attr) {}

    /**
     * The console and GUI scripts declared in {@code entry_points.txt}.
     *
     * @throws IllegalArgumentException saying why when a name would not be a plain file name in bin/ or a
     *                                  target is not module:attr
     */
    public static List<Script> parse(byte[] content) {
        List<Script> out = new ArrayList<>();
        String section = "";
        for (String raw : new String(content, StandardCharsets.UTF_8).split("\r?\n")) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            if (line.startsWith("[") && line.endsWith("]")) {
                section = line.substring(1, line.length() - 1).strip();
                continue;
            }
            if (!section.equals("console_scripts") && !section.equals("gui_scripts")) {
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("line '" + Names.printable(line) + "' in [" + section
                        + "] is not name = module:attr");
            }
            String name = line.substring(0, eq).strip();
            String why = Names.checkFileName(name);
            if (why == null && name.contains("..")) {
                why = "contains '..'";
            }
            if (why != null) {
                throw new IllegalArgumentException("entry point name '" + Names.printable(name) + "' refused: " + why);
            }
            Matcher m = TARGET.matcher(line.substring(eq + 1).strip());
            if (!m.matches()) {
                throw new IllegalArgumentException("entry point '" + Names.printable(name) + "' target '"
                        + Names.printable(line.substring(eq + 1).strip()) + "' is not module:attr");
            }
            out.add(new Script(name, m.group(1), m.group(2)));
        }
        return out;
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code console_scripts} and {@code gui_scripts} from {@code entry_points.txt}, and the launchers pip writes for them. */
final class EntryPoints {
    private EntryPoints() {}

    private static final Pattern TARGET = Pattern.compile(
            "([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)\\s*:\\s*([A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)*)"
                    + "\\s*(?:\\[[^\\]]*\\])?");

    /** One script entry point: {@code name = module:attr}. */
    record Script(String name, String module, String attr) {}

    /**
     * The console and GUI scripts declared in {@code entry_points.txt}.
     *
     * @throws InstallException when a name would not be a plain file name in bin/ or a target is not module:attr
     */
    static List<Script> parse(byte[] content, String label, String entry) throws InstallException {
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
                throw InstallException.entry(label, entry, "line '" + Names.printable(line) + "' in [" + section
                        + "] is not name = module:attr");
            }
            String name = line.substring(0, eq).strip();
            String why = Names.checkFileName(name);
            if (why == null && name.contains("..")) {
                why = "contains '..'";
            }
            if (why != null) {
                throw InstallException.entry(label, entry, "entry point name '" + Names.printable(name) + "' refused: " + why);
            }
            Matcher m = TARGET.matcher(line.substring(eq + 1).strip());
            if (!m.matches()) {
                throw InstallException.entry(label, entry, "entry point '" + Names.printable(name) + "' target '"
                        + Names.printable(line.substring(eq + 1).strip()) + "' is not module:attr");
            }
            out.add(new Script(name, m.group(1), m.group(2)));
        }
        return out;
    }

    /** The launcher script pip (distlib) writes for an entry point, starting with {@code shebang}. */
    static byte[] launcher(String shebang, Script s) {
        String importName = s.attr().split("\\.")[0];
        String text = shebang
                + "# -*- coding: utf-8 -*-\n"
                + "import re\n"
                + "import sys\n"
                + "from " + s.module() + " import " + importName + "\n"
                + "if __name__ == '__main__':\n"
                + "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                + "    sys.exit(" + s.attr() + "())\n";
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The shebang line(s) for an interpreter path, as pip writes them: {@code #!path} when the kernel can
     * take it (no spaces, at most 127 bytes), otherwise the {@code /bin/sh} exec trick.
     */
    static String shebang(String python) {
        if (python.indexOf(' ') < 0 && python.getBytes(StandardCharsets.UTF_8).length + 2 <= 127) {
            return "#!" + python + "\n";
        }
        return "#!/bin/sh\n'''exec' \"" + python.replace("\"", "\\\"") + "\" \"$0\" \"$@\"\n' '''\n";
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.wheel.EntryPoints;
import java.nio.charset.StandardCharsets;

/** The launchers pip writes in {@code bin/} for a wheel's console and GUI scripts. */
final class Launchers {
    private Launchers() {}

    /** The launcher script pip (distlib) writes for an entry point, starting with {@code shebang}. */
    static byte[] launcher(String shebang, EntryPoints.Script s) {
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

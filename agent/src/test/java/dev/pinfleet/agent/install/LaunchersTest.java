package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.wheel.EntryPoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The first line(s) of scripts and launchers, as pip writes them, and the launcher's body. */
class LaunchersTest {
    @TempDir
    Path tmp;

    @Test
    void aShortPathWithoutSpacesIsAPlainShebangUpToTheKernelsLimit() {
        assertEquals("#!/srv/app/releases/r1/bin/python\n", Launchers.shebang("/srv/app/releases/r1/bin/python"));
        // the kernel reads 127 bytes after "#!": "#!" + path must fit
        String longest = "/" + "p".repeat(124);
        assertEquals(125, longest.length());
        assertEquals("#!" + longest + "\n", Launchers.shebang(longest));
        String tooLong = longest + "p";
        assertEquals("#!/bin/sh\n'''exec' \"" + tooLong + "\" \"$0\" \"$@\"\n' '''\n", Launchers.shebang(tooLong));
        // counted in bytes, not characters: 63 two-byte letters are 126 bytes
        String wide = "/" + "\u00e9".repeat(62);
        assertEquals(125, wide.getBytes(StandardCharsets.UTF_8).length);
        assertTrue(Launchers.shebang(wide).startsWith("#!/"));
        assertTrue(Launchers.shebang(wide + "\u00e9").startsWith("#!/bin/sh\n"));
    }

    @Test
    void aPathWithASpaceOrAQuoteGoesThroughShAndStillRunsPython() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("with space \"quoted\""));
        Path python = Files.createSymbolicLink(dir.resolve("python"), InstallFixture.python().executable());
        String shebang = Launchers.shebang(python.toString());
        assertTrue(shebang.startsWith("#!/bin/sh\n"), shebang);
        assertTrue(shebang.contains("\\\"quoted\\\""), shebang);
        Path script = tmp.resolve("show-args");
        Files.writeString(script, shebang + "import sys\nprint(sys.argv[1:])\n");
        assertTrue(script.toFile().setExecutable(true));
        assertEquals("['a b', 'c']\n", InstallFixture.run(script.toString(), "a b", "c"));
    }

    @Test
    void aLauncherImportsTheFirstNameOfTheAttributeAndExitsWithItsResult() {
        byte[] launcher = Launchers.launcher("#!/r/bin/python\n", new EntryPoints.Script("tool", "pkg.cli", "App.main"));
        String text = new String(launcher, StandardCharsets.UTF_8);
        assertTrue(text.startsWith("#!/r/bin/python\n# -*- coding: utf-8 -*-\n"), text);
        assertTrue(text.contains("\nfrom pkg.cli import App\n"), text);
        assertTrue(text.endsWith("    sys.exit(App.main())\n"), text);
    }
}

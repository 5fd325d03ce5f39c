package dev.pinfleet.controller.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.serve.MirrorServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The migration path: a real virtualenv (python3 -m venv) filled by real pip from a mirror on loopback (no
 * network), then 'pinfleet mirror import-venv' packs what is installed into wheels, publishes them to a new
 * mirror under its sign-off policy and writes hash-pinned requirements that freeze accepts.
 */
@Timeout(300)
class ImportVenvTest {
    @TempDir Path dir;

    @Test
    void importsARealVirtualenvIntoASignedOffMirror() throws Exception {
        assumeTrue(Processes.pythonWithPip(), "python3 with pip is not installed");
        Path source = dir.resolve("source-mirror");
        Path in = Files.createDirectories(dir.resolve("in"));
        List<Path> wheels = List.of(
                TestWheels.wheel("greet", "1.0").requires("colorlib>=1.1")
                        .file("greet/__init__.py", "import colorlib\nHELLO = colorlib.paint('hello')\n").build(in),
                TestWheels.wheel("colorlib", "1.2").file("colorlib/__init__.py", "def paint(s):\n    return '*' + s + '*'\n")
                        .build(in),
                TestWheels.wheel("setuptools", "0.0.1").file("fake_setuptools.py", "").build(in));
        MirrorCliTest.cli("mirror", "init", "--mirror", source.toString());
        MirrorCliTest.cli("mirror", "acknowledge", "--mirror", source.toString(), "--as", "ci", "--policy-version", "1");
        List<String> publish = new java.util.ArrayList<>(List.of("mirror", "publish"));
        wheels.forEach(w -> publish.add(w.toString()));
        publish.addAll(List.of("--mirror", source.toString(), "--as", "ci"));
        assertEquals(0, MirrorCliTest.cli(publish.toArray(String[]::new)).code());

        Path venv = dir.resolve("venv");
        Path python = Processes.venv(venv);
        try (MirrorServer server = new MirrorServer(source, new InetSocketAddress("127.0.0.1", 0), new SimpleMeterRegistry())) {
            Processes.Result install = Processes.run("python3", "-m", "pip", "--python", python.toString(), "install",
                    "--no-deps", "--no-cache-dir", "--index-url", "http://127.0.0.1:" + server.start() + "/simple/",
                    "greet==1.0", "colorlib==1.2", "setuptools==0.0.1");
            assertEquals(0, install.exit(), install.output());
        }

        Path target = dir.resolve("new-mirror");
        Path pins = dir.resolve("requirements.txt");
        MirrorCliTest.cli("mirror", "init", "--mirror", target.toString());
        MirrorCliTest.Run unsigned = MirrorCliTest.cli("mirror", "import-venv", venv.toString(), "--mirror", target.toString(),
                "--as", "alice", "-o", pins.toString());
        assertEquals(1, unsigned.code());
        assertTrue(unsigned.err().contains("does not list alice"), unsigned.err());
        assertFalse(Files.exists(pins), "nothing written when the publish is refused");

        MirrorCliTest.cli("mirror", "acknowledge", "--mirror", target.toString(), "--as", "alice", "--policy-version", "1");
        MirrorCliTest.Run imported = MirrorCliTest.cli("mirror", "import-venv", venv.toString(), "--mirror",
                target.toString(), "--as", "alice", "-o", pins.toString());
        assertEquals(0, imported.code(), imported.err());
        assertTrue(imported.out().startsWith("packed 2 distribution(s) from " + venv.resolve("lib")), imported.out());
        assertTrue(imported.out().contains(": 2 published, 0 already on " + target + "; 1 left out;"), imported.out());
        String text = Files.readString(pins);
        Path greetWheel = target.resolve("packages/greet/greet-1.0-py3-none-any.whl");
        Path colorWheel = target.resolve("packages/colorlib/colorlib-1.2-py3-none-any.whl");
        assertTrue(text.contains("\ncolorlib==1.2 \\\n    --hash=sha256:" + Hashing.sha256Hex(colorWheel) + "\n"
                + "greet==1.0 \\\n    --hash=sha256:" + Hashing.sha256Hex(greetWheel) + "\n"), text);
        assertTrue(text.contains("# Left out: setuptools==0.0.1 (--all keeps pip, setuptools, wheel and distribute)"), text);
        assertFalse(Files.exists(target.resolve("packages/setuptools")));

        MirrorCliTest.Run frozen = MirrorCliTest.cli("freeze", pins.toString(), "--mirror", target.toString(), "--app", "shop",
                "--check-deps", "-o", dir.resolve("manifest.json").toString());
        assertEquals(0, frozen.code(), frozen.err());
        assertTrue(frozen.out().startsWith("froze 2 pin(s)"), frozen.out());

        Path pins2 = dir.resolve("all.txt");
        MirrorCliTest.Run all = MirrorCliTest.cli("mirror", "import-venv", venv.toString(), "--mirror", target.toString(),
                "--as", "alice", "--all", "--skip", "ColorLib", "-o", pins2.toString());
        assertEquals(0, all.code(), all.err());
        assertTrue(all.out().contains(": 1 published, 1 already on"), all.out());
        String text2 = Files.readString(pins2);
        assertTrue(text2.contains("\nsetuptools==0.0.1 \\\n") && !text2.contains("\ncolorlib=="), text2);
        assertTrue(text2.contains("# Left out: colorlib==1.2\n"), text2);
        assertEquals(0, MirrorCliTest.cli("mirror", "verify", "--mirror", target.toString()).code());

        // --only: just the named ones (tooling too, when named); one line of progress per wheel on stderr
        Path pins3 = dir.resolve("only.txt");
        MirrorCliTest.Run only = MirrorCliTest.cli("mirror", "import-venv", venv.toString(), "--mirror", target.toString(),
                "--as", "alice", "--only", "Greet,setuptools", "-o", pins3.toString());
        assertEquals(0, only.code(), only.err());
        String text3 = Files.readString(pins3);
        assertTrue(text3.contains("\ngreet==1.0 \\\n") && text3.contains("\nsetuptools==0.0.1 \\\n")
                && !text3.contains("\ncolorlib=="), text3);
        List<String> progress = only.err().lines().toList();
        assertEquals(3, progress.size(), only.err());
        assertTrue(progress.contains("packed 1/2 greet-1.0-py3-none-any.whl")
                || progress.contains("packed 2/2 greet-1.0-py3-none-any.whl"), only.err());
        assertTrue(progress.get(2).startsWith("publishing 2 wheel(s) to " + target), only.err());
        // --exclude (alias --skip), and -q for no progress
        MirrorCliTest.Run excluded = MirrorCliTest.cli("mirror", "import-venv", venv.toString(), "--mirror",
                target.toString(), "--as", "alice", "--exclude", "greet", "-q", "-o", dir.resolve("ex.txt").toString());
        assertEquals(0, excluded.code(), excluded.err());
        assertEquals("", excluded.err());
        String text4 = Files.readString(dir.resolve("ex.txt"));
        assertTrue(text4.contains("\ncolorlib==1.2 \\\n") && !text4.contains("\ngreet=="), text4);
        // a name --only asks for that is not installed: refused, naming what is
        MirrorCliTest.Run missing = MirrorCliTest.cli("mirror", "import-venv", venv.toString(), "--mirror",
                target.toString(), "--as", "alice", "--only", "greet,flask", "-o", dir.resolve("no.txt").toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("--only names [flask], not installed there; installed: [colorlib==1.2, greet==1.0"),
                missing.err());
        assertFalse(Files.exists(dir.resolve("no.txt")));
    }
}

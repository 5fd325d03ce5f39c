package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The virtualenv skeleton {@code python -m venv --without-pip} would write, pointing at the release's
 * final location: {@code pyvenv.cfg}, {@code bin/python*} symlinks to the real interpreter,
 * {@code bin/activate} (from the interpreter's own template when it has one), {@code include/},
 * {@code lib/pythonX.Y/site-packages/} and {@code lib64 -> lib}.
 */
final class VirtualEnv {
    private VirtualEnv() {}

    /** Release paths (whole top-level names or exact files) that belong to the skeleton. */
    static Set<String> reserved(PythonInfo python) {
        return Set.of("pyvenv.cfg", "lib64", ".pinfleet", "bin/python", "bin/python3", "bin/python" + python.version(),
                "bin/activate");
    }

    /** Directories the skeleton creates, release-relative, parents first. */
    static List<String> directories(PythonInfo python) {
        return List.of("bin", "include", "lib", "lib/python" + python.version(), python.sitePackagesRelative());
    }

    /** Writes the skeleton into {@code staging}, which exists and is empty. */
    static void create(Path staging, Path finalDir, PythonInfo python) throws IOException {
        for (String dir : directories(python)) {
            AppReadable.createDirectory(staging.resolve(dir));
        }
        Files.createSymbolicLink(staging.resolve("lib64"), Path.of("lib"));
        Path exe = python.executable();
        for (String name : List.of("python", "python3", "python" + python.version())) {
            Files.createSymbolicLink(staging.resolve("bin").resolve(name), exe);
        }
        String cfg = "home = " + exe.getParent() + "\n"
                + "include-system-site-packages = false\n"
                + "version = " + python.fullVersion() + "\n"
                + "executable = " + exe + "\n"
                + "command = " + exe + " -m venv --without-pip " + finalDir + "\n";
        AppReadable.write(staging.resolve("pyvenv.cfg"), cfg.getBytes(StandardCharsets.UTF_8), false);
        Path template = exe.getParent().resolveSibling("lib/python" + python.version() + "/venv/scripts/common/activate");
        if (Files.isRegularFile(template)) {
            String prompt = "(" + finalDir.getFileName() + ") ";
            String activate = Files.readString(template, StandardCharsets.UTF_8)
                    .replace("__VENV_DIR__", finalDir.toString())
                    .replace("__VENV_NAME__", finalDir.getFileName().toString())
                    .replace("__VENV_PROMPT__", prompt)
                    .replace("__VENV_BIN_NAME__", "bin")
                    .replace("__VENV_PYTHON__", finalDir.resolve("bin/python").toString());
            AppReadable.write(staging.resolve("bin/activate"), activate.getBytes(StandardCharsets.UTF_8), false);
        }
    }
}

package dev.pinfleet.agent.install;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Optional {@code .pyc} compilation of a release's site-packages with the release's own interpreter.
 * The staging prefix is stripped and the final prefix prepended ({@code -s}/{@code -p}), so the paths
 * embedded in the bytecode name where the release will live, not where it was built. Like pip, a
 * source file that does not compile (exit status 1: test fixtures, Python 2 leftovers) does not fail
 * the release; any other failure does. The application cannot write {@code __pycache__} into a release (it is
 * not writable by its user), so this is where a release's bytecode comes from.
 */
final class BytecodeCompiler {
    private BytecodeCompiler() {}

    static final long TIMEOUT_SECONDS = 900;

    static void compile(Path staging, Path finalDir, PythonInfo python) throws IOException, InstallException {
        Path site = staging.resolve(python.sitePackagesRelative());
        // umask 022: the __pycache__ directories and .pyc files compileall creates are, like the rest of the release,
        // not writable by the application's user, whatever the agent's own umask allows its group
        Process p = new ProcessBuilder("/bin/sh", "-c", "umask 022 && exec \"$0\" \"$@\"",
                staging.resolve("bin/python").toString(), "-E", "-m", "compileall", "-q",
                "-j", "0", "-s", staging.toString(), "-p", finalDir.toString(), site.toString())
                .redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readNBytes(64 * 1024), StandardCharsets.UTF_8);
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw InstallException.failed("bytecode compilation of " + site + " did not finish within "
                        + TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while compiling bytecode", e);
        }
        if (p.exitValue() != 0 && p.exitValue() != 1) {
            throw InstallException.failed("bytecode compilation of " + site + " failed (exit " + p.exitValue() + "): "
                    + out.strip());
        }
    }
}

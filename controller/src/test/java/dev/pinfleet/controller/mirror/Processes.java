package dev.pinfleet.controller.mirror;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Real python3/pip processes for tests, bounded by a timeout, with this machine's pip configuration removed. */
public final class Processes {
    private Processes() {}

    static final Duration PIP_TIMEOUT = Duration.ofSeconds(180);

    /** Exit code and combined output. */
    public record Result(int exit, String output) {}

    private static Boolean pipAvailable;

    /** True when python3 and its pip run here (asked once per test run). */
    static synchronized boolean pythonWithPip() {
        if (pipAvailable == null) {
            try {
                pipAvailable = run("python3", "-m", "pip", "--version").exit() == 0;
            } catch (IOException e) {
                pipAvailable = false;
            }
        }
        return pipAvailable;
    }

    /**
     * Runs a command with every {@code PIP_*} variable removed and {@code PIP_CONFIG_FILE=/dev/null}, so only the
     * index on the command line (or in the requirements file) is used, and loopback is never proxied.
     */
    public static Result run(String... command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(List.of(command)).redirectErrorStream(true);
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.toUpperCase(Locale.ROOT).startsWith("PIP_"));
        env.put("PIP_CONFIG_FILE", "/dev/null");
        env.put("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        env.put("PIP_NO_INPUT", "1");
        env.put("NO_PROXY", "127.0.0.1,localhost");
        env.put("no_proxy", "127.0.0.1,localhost");
        Path log = Files.createTempFile("pinfleet-proc", ".log");
        try {
            Process p = pb.redirectOutput(log.toFile()).start();
            boolean done;
            try {
                done = p.waitFor(PIP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted: " + String.join(" ", command), e);
            }
            if (!done) {
                p.destroyForcibly();
                throw new IOException("timed out after " + PIP_TIMEOUT + ": " + String.join(" ", command) + "\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** A fresh virtualenv without pip (pip runs from outside with --python); returns its python. */
    public static Path venv(Path dir) throws IOException {
        Result r = run("python3", "-m", "venv", "--without-pip", dir.toString());
        if (r.exit() != 0) {
            throw new IOException("python3 -m venv failed: " + r.output());
        }
        return dir.resolve("bin/python");
    }
}

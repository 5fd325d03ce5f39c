package dev.pinfleet.mirror;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the machine's python3 (or any command) as a real process, bounded by a timeout. */
public final class Python {
    private Python() {}

    /** Exit code and combined output of a finished process. */
    public record Result(int exit, String output) {}

    /** True when {@code python3} runs here. */
    public static boolean available() {
        try {
            return run(Duration.ofSeconds(20), "python3", "-c", "import sys").exit() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** The interpreter's purelib (site-packages) directory. */
    public static Path purelib() throws IOException {
        Result r = run(Duration.ofSeconds(20), "python3", "-c",
                "import sysconfig;print(sysconfig.get_paths()['purelib'])");
        if (r.exit() != 0) {
            throw new IOException("python3 failed: " + r.output());
        }
        return Path.of(r.output().strip());
    }

    /**
     * Runs {@code command}, killing it (and failing) when it outlives {@code timeout}.
     *
     * @throws IOException when it cannot start or times out; the message holds its output so far
     */
    public static Result run(Duration timeout, String... command) throws IOException {
        return run(new ProcessBuilder(List.of(command)), timeout);
    }

    /**
     * Runs {@code command} with pip isolated from this machine's configuration: every {@code PIP_*}
     * variable removed and {@code PIP_CONFIG_FILE=/dev/null} (no config file, so no extra index or
     * find-links can satisfy a request instead of the mirror under test), and loopback never proxied.
     */
    public static Result runIsolated(Duration timeout, String... command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(List.of(command));
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.toUpperCase(Locale.ROOT).startsWith("PIP_"));
        env.put("PIP_CONFIG_FILE", "/dev/null");
        env.put("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        env.put("NO_PROXY", "127.0.0.1,localhost");
        env.put("no_proxy", "127.0.0.1,localhost");
        return run(pb, timeout);
    }

    private static Result run(ProcessBuilder pb, Duration timeout) throws IOException {
        String[] command = pb.command().toArray(new String[0]);
        Path log = Files.createTempFile("pinfleet-proc", ".log");
        try {
            Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
            boolean done;
            try {
                done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException("interrupted waiting for " + String.join(" ", command), e);
            }
            if (!done) {
                p.destroyForcibly();
                throw new IOException("timed out after " + timeout + ": " + String.join(" ", command) + "\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}

package dev.pinfleet.agent.hooks;

import dev.pinfleet.proto.v1.CheckResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs one command without a shell, in a working directory, with a bounded wall time; captures stdout and
 * stderr together, keeping at most {@link #MAX_OUTPUT} bytes. A command still running at its timeout is
 * killed (with its descendants).
 */
public final class CommandRunner {
    /** Output kept per run, in bytes. */
    public static final int MAX_OUTPUT = 4096;
    private static final String TRUNCATED = "…[truncated]";

    private final Clock clock;

    public CommandRunner(Clock clock) {
        this.clock = clock;
    }

    /**
     * Runs {@code argv} in {@code dir}. {@code argv[0]} is absolute, or relative to {@code dir} when it contains a
     * slash (e.g. {@code bin/python}), else looked up on PATH.
     */
    public CheckResult run(String kind, List<String> argv, Path dir, Duration timeout, Map<String, String> env)
            throws InterruptedException {
        long start = clock.millis();
        CheckResult.Builder r = CheckResult.newBuilder().setKind(kind).setTarget(String.join(" ", argv)).setAttempt(1);
        String program = argv.get(0);
        if (!program.startsWith("/") && program.contains("/")) {
            program = dir.resolve(program).toString();
        }
        ProcessBuilder pb = new ProcessBuilder(concat(program, argv.subList(1, argv.size())))
                .directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return r.setOk(false).setCode(-1).setOutput("cannot start " + program + " in " + dir + ": " + e.getMessage())
                    .setMillis(clock.millis() - start).build();
        }
        Capture capture = new Capture(p.getInputStream());
        Thread reader = new Thread(capture, "hook-output");
        reader.setDaemon(true);
        reader.start();
        try {
            p.getOutputStream().close(); // no input: a command waiting on stdin sees end of file
        } catch (IOException e) {
            // already gone; its exit code tells
        }
        boolean finished;
        try {
            finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            kill(p);
            throw e;
        }
        if (!finished) {
            kill(p);
        }
        reader.join(2000);
        String out = capture.text();
        if (!finished) {
            return r.setOk(false).setCode(-1).setOutput(limit(out + "\n[killed after the timeout of " + timeout.toSeconds()
                    + " s]")).setMillis(clock.millis() - start).build();
        }
        int code = p.exitValue();
        return r.setOk(code == 0).setCode(code).setOutput(out).setMillis(clock.millis() - start).build();
    }

    private static List<String> concat(String first, List<String> rest) {
        java.util.ArrayList<String> all = new java.util.ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return all;
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Cuts {@code s} to {@link #MAX_OUTPUT} bytes of UTF-8, marking the cut. */
    static String limit(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_OUTPUT) {
            return s;
        }
        return new String(b, 0, MAX_OUTPUT - 16, StandardCharsets.UTF_8) + TRUNCATED;
    }

    /** Reads a stream to its end, keeping the first bytes only. */
    private static final class Capture implements Runnable {
        private final InputStream in;
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private boolean cut;

        Capture(InputStream in) {
            this.in = in;
        }

        @Override
        public void run() {
            byte[] buf = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    synchronized (this) {
                        int room = MAX_OUTPUT + 1 - kept.size();
                        if (room > 0) {
                            kept.write(buf, 0, Math.min(room, n));
                        }
                        cut |= n > room;
                    }
                }
            } catch (IOException e) {
                // the process was killed; keep what arrived
            }
        }

        synchronized String text() {
            byte[] b = kept.toByteArray();
            if (!cut && b.length <= MAX_OUTPUT) {
                return new String(b, StandardCharsets.UTF_8);
            }
            return new String(b, 0, Math.min(b.length, MAX_OUTPUT - 16), StandardCharsets.UTF_8) + TRUNCATED;
        }
    }
}

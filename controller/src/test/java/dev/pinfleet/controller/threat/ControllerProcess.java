package dev.pinfleet.controller.threat;

import dev.pinfleet.controller.cli.PinfleetCli;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The operator's `pinfleet` command as a real process ({@code java -cp <test classpath> PinfleetCli ARGS}), its
 * standard output and error gathered line by line as they come, so a test can act at a point of the rollout and
 * {@link #kill() kill -9} it there. Closing kills it if it still runs.
 */
public final class ControllerProcess implements AutoCloseable {
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private ControllerProcess(Process process) {
        this.process = process;
        reader = new Thread(this::read, "pinfleet-output");
        reader.setDaemon(true);
        reader.start();
    }

    /** Runs {@code pinfleet ARGS} in {@code workDir} (where its embedded controller keeps .pinfleet/). */
    public static ControllerProcess start(List<String> args, Path workDir) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), PinfleetCli.class.getName()));
        cmd.addAll(args);
        return new ControllerProcess(new ProcessBuilder(cmd).directory(workDir.toFile()).redirectErrorStream(true).start());
    }

    /** Sends SIGINT (Ctrl-C) and waits (at most 30 s) for the process to end; returns its exit status. */
    public int interrupt() throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).redirectErrorStream(true).start();
        if (!k.waitFor(10, TimeUnit.SECONDS) || k.exitValue() != 0) {
            throw new IOException("kill -INT " + process.pid() + " failed");
        }
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("pinfleet process " + process.pid() + " still runs 30 s after SIGINT");
        }
        reader.join(10_000);
        return process.exitValue();
    }

    public long pid() {
        return process.pid();
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String l; (l = in.readLine()) != null; ) {
                synchronized (lines) {
                    lines.add(l);
                    lines.notifyAll();
                }
            }
        } catch (IOException e) {
            // the process is gone: what it wrote so far stays in lines
        }
    }

    /** Waits until a line matches {@code p}; fails with the output so far after {@code limit} or when it exits. */
    public String awaitLine(String what, Predicate<String> p, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        synchronized (lines) {
            while (true) {
                for (String l : lines) {
                    if (p.test(l)) {
                        return l;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || (!process.isAlive() && !reader.isAlive())) {
                    throw new AssertionError("pinfleet deploy: no line with " + what + " within " + limit
                            + (process.isAlive() ? "" : " (it exited with " + process.exitValue() + ")")
                            + "; its output:\n" + String.join("\n", lines));
                }
                lines.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 100)));
            }
        }
    }

    /** Sends SIGKILL and waits (at most 10 s) for the process to go; returns its exit status. */
    public int kill() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new AssertionError("pinfleet process " + process.pid() + " still runs 10 s after SIGKILL");
        }
        return process.exitValue();
    }

    /** Everything it wrote so far. */
    public String output() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}

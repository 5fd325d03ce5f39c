package dev.pinfleet.controller;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What a command needs of the process it runs in: the working directory (where {@code .pinfleet/} is looked for),
 * the environment variables, and what to do should the process be stopped (Ctrl-C, SIGTERM) while it works.
 *
 * @param workingDirectory the directory commands start from
 * @param env              environment variables
 * @param stopActions      run, in order, when the process is stopped; tests pass a list nobody runs
 */
public record CliContext(Path workingDirectory, Map<String, String> env, List<Runnable> stopActions) {
    /** The process's own directory and environment; {@code stopActions} are run by its shutdown hook. */
    public static CliContext system(List<Runnable> stopActions) {
        return new CliContext(Path.of("").toAbsolutePath(), System.getenv(), stopActions);
    }

    /** A context for tests: this directory and environment; nothing stops it. */
    public static CliContext of(Path workingDirectory, Map<String, String> env) {
        return new CliContext(workingDirectory.toAbsolutePath(), env, new CopyOnWriteArrayList<>());
    }

    /** A registration that ends when closed. */
    public interface Handle extends AutoCloseable {
        @Override
        void close();
    }

    /** Runs {@code action} should the process be stopped before the returned handle is closed. */
    public Handle whenStopped(Runnable action) {
        stopActions.add(action);
        return () -> stopActions.remove(action);
    }

    /** An environment variable, or null when unset or blank. */
    public String var(String name) {
        String v = env.get(name);
        return v == null || v.isBlank() ? null : v;
    }
}

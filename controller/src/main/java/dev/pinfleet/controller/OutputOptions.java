package dev.pinfleet.controller;

import com.google.gson.JsonObject;
import dev.pinfleet.json.ProtoJson;
import java.io.PrintWriter;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The output options of every command that prints a result, one grammar for all: {@code --json} (one JSON object
 * on standard output, keys in snake_case as the proto field names, numbers as numbers), {@code -q} (only the
 * summary line) and {@code -v} (more detail). Errors go to standard error in every mode.
 */
public final class OutputOptions {
    @Option(names = "--json", description = "One JSON object on standard output instead of text (keys snake_case, "
            + "numbers as numbers).")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "Print only the summary line.")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "Print more detail.")
    boolean verbose;

    @Spec(Spec.Target.MIXEE) CommandSpec command;

    public boolean json() {
        return json;
    }

    public boolean quiet() {
        return quiet;
    }

    public boolean verbose() {
        return verbose && !json;
    }

    /** A detail line: printed unless --json or -q. */
    public void line(String format, Object... args) {
        if (!json && !quiet) {
            out().printf(format + "%n", args);
        }
    }

    /** A line printed only with -v. */
    public void detail(String format, Object... args) {
        if (verbose && !json && !quiet) {
            out().printf(format + "%n", args);
        }
    }

    /** The summary line: printed unless --json. */
    public void summary(String format, Object... args) {
        if (!json) {
            out().printf(format + "%n", args);
            out().flush();
        }
    }

    /** A progress line on standard error, printed unless --json or -q: standard output stays the result's. */
    public void progress(String line) {
        if (!json && !quiet) {
            PrintWriter err = command.commandLine().getErr();
            err.println(line);
            err.flush();
        }
    }

    /** The result as one JSON object, printed only with --json; {@code result} fills it. */
    public void result(java.util.function.Consumer<JsonObject> result) {
        if (json) {
            JsonObject o = new JsonObject();
            result.accept(o);
            out().println(ProtoJson.line(o));
        }
        out().flush();
    }

    private PrintWriter out() {
        return command.commandLine().getOut();
    }
}

package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliException;
import java.io.PrintWriter;
import java.time.Clock;
import picocli.CommandLine.Option;

/** How a followed rollout is shown: redrawn on a terminal, plain lines, or newline-delimited JSON. */
public final class ViewOptions {
    @Option(names = "--progress", defaultValue = "auto", paramLabel = "auto|tty|plain|json",
            description = "Progress display: tty redraws in place, plain prints lines (default: auto, tty on a terminal).")
    String progress;

    @Option(names = "--json", description = "Newline-delimited JSON events on standard output instead of text, one object a line, "
                    + "the last one {\"type\":\"report\",…}.")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "No progress, only the summary.")
    boolean quiet;

    @Option(names = {"-v", "--verbose"}, description = "Plain progress: also each artifact as a node reports it.")
    boolean verbose;

    /** "json", "tty" or "plain". */
    String mode(Terminal terminal) {
        String mode = json ? "json" : progress;
        if (mode.equals("auto")) {
            mode = terminal.interactive() ? "tty" : "plain";
        }
        if (!mode.equals("json") && !mode.equals("tty") && !mode.equals("plain")) {
            throw new CliException("--progress must be auto, tty, plain or json, not '" + progress + "'");
        }
        return mode;
    }

    /** The display; {@code color} false (NO_COLOR set) keeps a terminal's display free of colours. */
    ProgressView view(Terminal terminal, PrintWriter out, Clock clock, boolean color) {
        return switch (mode(terminal)) {
            case "json" -> new JsonProgress(out, clock);
            case "tty" -> quiet ? new ProgressView() { } : new TerminalProgress(out, clock, terminal.width(), color);
            default -> quiet ? new ProgressView() { } : new PlainProgress(out, true, clock, verbose);
        };
    }

    boolean text(Terminal terminal) {
        return !mode(terminal).equals("json");
    }
}

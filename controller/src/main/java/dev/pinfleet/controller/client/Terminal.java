package dev.pinfleet.controller.client;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The operator's terminal: where answers to prompts come from, and whether output goes to a terminal (live
 * progress redrawn in place) or to a file or pipe (plain lines).
 *
 * @param in          answers to prompts (e.g. after the canary)
 * @param interactive standard output is a terminal
 * @param width       columns of the terminal
 */
public record Terminal(BufferedReader in, boolean interactive, int width) {
    /** The process's own: a terminal when {@code System.console()} is one. */
    public static Terminal system() {
        int width = 100;
        String cols = System.getenv("COLUMNS");
        if (cols != null && cols.matches("\\d{2,4}")) {
            width = Integer.parseInt(cols);
        }
        return new Terminal(new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)),
                System.console() != null, width);
    }

    /** Reads one answer; null at end of input. */
    public String readLine() {
        try {
            return in.readLine();
        } catch (IOException e) {
            return null;
        }
    }
}

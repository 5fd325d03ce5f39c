package dev.pinfleet.controller;

/** An operator-facing failure: printed as "pinfleet: MESSAGE" with exit code 1 (2 for usage). */
public class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    public CliException(String message) {
        this(message, 1);
    }

    public CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}

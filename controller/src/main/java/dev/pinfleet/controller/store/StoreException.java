package dev.pinfleet.controller.store;

/**
 * The database could not do what was asked. The message names the database (path or URL without password) and
 * the cause in words ("disk full", "locked by another process", "read-only", …); nothing already recorded is lost.
 */
public class StoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }

    public StoreException(String message) {
        super(message);
    }
}

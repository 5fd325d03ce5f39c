package dev.pinfleet.manifest;

/** A manifest or envelope that must not be acted on; the message says which field and why. */
public class ManifestException extends Exception {
    private static final long serialVersionUID = 1L;

    public ManifestException(String message) {
        super(message);
    }

    public ManifestException(String message, Throwable cause) {
        super(message, cause);
    }
}

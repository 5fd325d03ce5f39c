package dev.pinfleet.mirror.publish;

/** A publish that was refused; nothing of the refused request was placed in the mirror. */
public final class PublishException extends Exception {
    private static final long serialVersionUID = 1L;

    /**
     * Why a publish was refused; the HTTP upload endpoint maps INVALID to 400, NOT_SIGNED_OFF to 403 and
     * CONFLICT to 409.
     */
    public enum Reason {
        /** The file is not an acceptable wheel (name, zip, METADATA, RECORD). */
        INVALID,
        /** The mirror already holds different bytes under this file name (publishing is append-only). */
        CONFLICT,
        /** The user has not signed off the mirror's current upload policy (or the mirror has none). */
        NOT_SIGNED_OFF
    }

    private final Reason reason;
    private final String fileName;

    public PublishException(Reason reason, String fileName, String message) {
        super(message);
        this.reason = reason;
        this.fileName = fileName;
    }

    public PublishException(Reason reason, String fileName, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
        this.fileName = fileName;
    }

    /** Why it was refused. */
    public Reason reason() {
        return reason;
    }

    /** The file name (not path) the refusal is about; empty when it is about the whole request. */
    public String fileName() {
        return fileName;
    }
}

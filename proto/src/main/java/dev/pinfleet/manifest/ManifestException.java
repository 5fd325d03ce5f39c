package dev.pinfleet.manifest;

/** A manifest or envelope that must not be acted on; the message says which field and why. */
public class ManifestException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why a manifest is refused, for programs; the message is for people. */
    public enum Reason {
        /** Signatures: too few valid ones from distinct trusted keys, unsigned, wrong payload type, too many. */
        SIGNATURE,
        /** The manifest's {@code expires} is not after the time of the check. */
        EXPIRED,
        /** The manifest is bound to another environment than the node's. */
        ENVIRONMENT,
        /** Anything else: too large, not JSON, a field out of its rules. */
        INVALID
    }

    private final Reason reason;

    public ManifestException(String message) {
        this(Reason.INVALID, message);
    }

    public ManifestException(String message, Throwable cause) {
        super(message, cause);
        this.reason = Reason.INVALID;
    }

    public ManifestException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}

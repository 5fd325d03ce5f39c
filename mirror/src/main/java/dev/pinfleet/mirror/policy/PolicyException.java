package dev.pinfleet.mirror.policy;

/** The mirror's upload policy or uploaders file is missing or malformed; the message names the file. */
public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;

    public PolicyException(String message) {
        super(message);
    }
}

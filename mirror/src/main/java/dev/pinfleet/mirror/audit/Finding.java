package dev.pinfleet.mirror.audit;

/**
 * One problem {@link MirrorVerifier} found.
 *
 * @param kind   what is wrong
 * @param path   the file concerned, relative to the mirror directory ({@code audit.log} for log problems)
 * @param detail what exactly, in a sentence (digests, audit line, who published)
 */
public record Finding(Kind kind, String path, String detail) {

    /** The kinds of problem, in the order a report lists them. */
    public enum Kind {
        /** A published file whose bytes differ from what the audit log recorded. */
        TAMPERED,
        /** A file the audit log records that is no longer on disk. */
        MISSING,
        /** A file served from {@code packages/} that no audit line accounts for. */
        UNLOGGED,
        /** A symbolic link or other non-regular entry anywhere in the mirror (a web server may follow it). */
        NOT_REGULAR,
        /** An audit line that cannot be read, or a file recorded twice with different digests. */
        BAD_AUDIT_LOG,
        /** A static index page that does not match the files it lists. */
        STALE_INDEX
    }

    /** {@code kind path: detail}, lowercase kind, as the CLI prints it. */
    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-') + " " + path + ": " + detail;
    }
}

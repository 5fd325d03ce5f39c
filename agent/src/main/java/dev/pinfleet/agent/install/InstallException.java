package dev.pinfleet.agent.install;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.FailureReason;

/**
 * An artifact that cannot be installed. The message names the artifact file, the entry inside it
 * (when there is one) and why, e.g. {@code "alpha-1.0-py3-none-any.whl: entry '../evil': path has a '..' component"}.
 * Not retryable: the same bytes fail the same way. {@link #reason()} says which kind of failure it is, set where it
 * is thrown: a refused archive unless built by {@link #conflict} or {@link #failed}.
 */
public final class InstallException extends Exception {
    private static final long serialVersionUID = 1L;
    private final FailureReason reason;

    /** An artifact refused for what it holds ({@link FailureReason#REASON_INSTALL_ARCHIVE}). */
    public InstallException(String message) {
        this(message, null, FailureReason.REASON_INSTALL_ARCHIVE);
    }

    /** With a cause; keeps the reason of a cause that is itself an InstallException. */
    public InstallException(String message, Throwable cause) {
        this(message, cause, cause instanceof InstallException ie ? ie.reason : FailureReason.REASON_INSTALL_ARCHIVE);
    }

    private InstallException(String message, Throwable cause, FailureReason reason) {
        super(message, cause);
        this.reason = reason;
    }

    /** The typed reason of the deploy this failure ends. */
    public FailureReason reason() {
        return reason;
    }

    /** The agent's form of a refusal by the shared archive and wheel checks (same message). */
    static InstallException from(ArchiveException e) {
        return new InstallException(e.getMessage(), e);
    }

    /** An exception about one artifact file as a whole. */
    static InstallException of(String artifactFile, String why) {
        return new InstallException(artifactFile + ": " + why);
    }

    /** An exception about one entry inside an artifact file. */
    static InstallException entry(String artifactFile, String entry, String why) {
        return new InstallException(artifactFile + ": entry '" + Names.printable(entry) + "': " + why);
    }

    /** Two artifacts claim one path of the release; {@code message} names both and the path. */
    static InstallException conflict(String message) {
        return new InstallException(message, null, FailureReason.REASON_INSTALL_CONFLICT);
    }

    /** Two artifacts (or an artifact and the virtualenv) claim one path of the release. */
    static InstallException conflict(String artifactFile, String why) {
        return new InstallException(artifactFile + ": " + why, null, FailureReason.REASON_INSTALL_CONFLICT);
    }

    /** The release cannot be built for a reason that is not in an artifact (the interpreter, bytecode compilation). */
    public static InstallException failed(String message) {
        return new InstallException(message, null, FailureReason.REASON_INSTALL_FAILED);
    }
}

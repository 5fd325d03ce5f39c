package dev.pinfleet.agent.install;

/**
 * An artifact that cannot be installed. The message names the artifact file, the entry inside it
 * (when there is one) and why, e.g. {@code "alpha-1.0-py3-none-any.whl: entry '../evil': path has a '..' component"}.
 * Not retryable: the same bytes fail the same way.
 */
public final class InstallException extends Exception {
    private static final long serialVersionUID = 1L;

    public InstallException(String message) {
        super(message);
    }

    public InstallException(String message, Throwable cause) {
        super(message, cause);
    }

    /** An exception about one artifact file as a whole. */
    static InstallException of(String artifactFile, String why) {
        return new InstallException(artifactFile + ": " + why);
    }

    /** An exception about one entry inside an artifact file. */
    static InstallException entry(String artifactFile, String entry, String why) {
        return new InstallException(artifactFile + ": entry '" + dev.pinfleet.manifest.Names.printable(entry) + "': " + why);
    }
}

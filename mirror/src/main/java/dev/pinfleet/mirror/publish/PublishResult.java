package dev.pinfleet.mirror.publish;

/**
 * What a publish did with one file.
 *
 * @param file    the path relative to the mirror directory, {@code packages/<project>/<filename>}
 * @param sha256  lowercase hex SHA-256 of the file
 * @param size    size in bytes
 * @param outcome whether it was newly placed or already there with the same bytes
 */
public record PublishResult(String file, String sha256, long size, Outcome outcome) {

    /** The two successful outcomes. */
    public enum Outcome {
        /** Newly placed, and an audit line written. */
        PUBLISHED,
        /** The mirror already held exactly these bytes under this name; nothing was written. */
        UNCHANGED
    }
}

package dev.pinfleet.mirror;

/**
 * One published file as the simple index lists it.
 *
 * @param project        the PEP 503 normalized project name (its directory under {@code packages/})
 * @param filename       the file name
 * @param size           size in bytes
 * @param sha256         lowercase hex SHA-256 of the file
 * @param requiresPython the wheel METADATA's Requires-Python, or the empty string
 */
public record IndexedFile(String project, String filename, long size, String sha256, String requiresPython) {

    /** The path relative to the mirror directory: {@code packages/<project>/<filename>}. */
    public String relativePath() {
        return MirrorIndex.PACKAGES + "/" + project + "/" + filename;
    }
}

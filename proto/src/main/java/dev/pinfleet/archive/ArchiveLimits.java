package dev.pinfleet.archive;

/**
 * Bounds on what one archive may unpack to: the zip-bomb and tar-bomb guard. The agent, the mirror's publisher
 * (local and HTTP uploads) and {@code import-venv} apply the same values; for a zip they are checked from the
 * central directory before a single byte is inflated ({@link ZipArchive#open}), and again against the bytes
 * actually inflated.
 */
public final class ArchiveLimits {
    private ArchiveLimits() {}

    /** Most bytes one archive may unpack to (8 GiB). */
    public static final long MAX_UNPACKED_BYTES = 8L << 30;
    /** Most entries one archive may hold. */
    public static final int MAX_ENTRIES = 200_000;
    /** Highest compression ratio (unpacked / packed) accepted for an entry larger than {@link #RATIO_FLOOR_BYTES}. */
    public static final long MAX_RATIO = 200;
    /** Entries (and archives) up to this many unpacked bytes are exempt from the ratio check (1 MiB). */
    public static final long RATIO_FLOOR_BYTES = 1L << 20;
    /** Largest metadata file (METADATA, RECORD, WHEEL, entry_points.txt) read into memory, in bytes (64 MiB). */
    public static final int MAX_METADATA_BYTES = 64 << 20;

    /** Null when {@code unpacked} bytes from {@code packed} bytes is a plausible ratio, else why not. */
    public static String checkRatio(long unpacked, long packed) {
        if (unpacked > RATIO_FLOOR_BYTES && unpacked > Math.max(packed, 1) * MAX_RATIO) {
            return "compression ratio " + (unpacked / Math.max(packed, 1)) + ":1 (" + unpacked + " bytes from " + packed
                    + ") exceeds the limit of " + MAX_RATIO + ":1";
        }
        return null;
    }
}

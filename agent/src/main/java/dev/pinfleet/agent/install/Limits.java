package dev.pinfleet.agent.install;

/** Bounds on what one artifact may unpack to: the zip-bomb and tar-bomb guard. */
final class Limits {
    private Limits() {}

    /** Most bytes one artifact may unpack to (8 GiB). */
    static final long MAX_UNPACKED_BYTES = 8L << 30;
    /** Most entries one artifact may hold. */
    static final int MAX_ENTRIES = 200_000;
    /** Highest compression ratio (unpacked / packed) accepted for an entry larger than {@link #RATIO_FLOOR_BYTES}. */
    static final long MAX_RATIO = 200;
    /** Entries (and artifacts) up to this many unpacked bytes are exempt from the ratio check. */
    static final long RATIO_FLOOR_BYTES = 1L << 20;
    /** Largest metadata file (METADATA, RECORD, WHEEL, entry_points.txt) read into memory. */
    static final int MAX_METADATA_BYTES = 64 << 20;

    /** Null when {@code unpacked} bytes from {@code packed} bytes is a plausible ratio, else why not. */
    static String checkRatio(long unpacked, long packed) {
        if (unpacked > RATIO_FLOOR_BYTES && unpacked > Math.max(packed, 1) * MAX_RATIO) {
            return "compression ratio " + (unpacked / Math.max(packed, 1)) + ":1 (" + unpacked + " bytes from " + packed
                    + ") exceeds the limit of " + MAX_RATIO + ":1";
        }
        return null;
    }
}

package dev.pinfleet.archive;

import dev.pinfleet.manifest.Names;

/**
 * An archive (a wheel, a zip) that is refused. The message names the file, the entry inside it (when there is
 * one) and why, e.g. {@code "alpha-1.0-py3-none-any.whl: entry '../evil': path has a '..' component"}: the agent,
 * the mirror's publisher and its upload endpoint all report refusals in this one form. Not retryable: the same
 * bytes fail the same way.
 */
public final class ArchiveException extends Exception {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final String entry;
    private final long inflatedBytes;

    private ArchiveException(String file, String entry, String why, long inflatedBytes) {
        super(file + ": " + (entry == null ? "" : "entry '" + Names.printable(entry) + "': ") + why);
        this.file = file;
        this.entry = entry;
        this.inflatedBytes = inflatedBytes;
    }

    /** A refusal of the file as a whole, before anything of it was inflated. */
    public static ArchiveException of(String file, String why) {
        return new ArchiveException(file, null, why, 0);
    }

    /** A refusal of one entry, before anything of the file was inflated. */
    public static ArchiveException entry(String file, String entry, String why) {
        return new ArchiveException(file, entry, why, 0);
    }

    /** A refusal of one entry (null: of the file) after {@code inflatedBytes} bytes of the file were inflated. */
    static ArchiveException after(String file, String entry, String why, long inflatedBytes) {
        return new ArchiveException(file, entry, why, inflatedBytes);
    }

    /** The archive's file name, as the caller labelled it. */
    public String file() {
        return file;
    }

    /** The entry refused, or null when the refusal is about the file as a whole. */
    public String entry() {
        return entry;
    }

    /**
     * How many bytes of the archive had been inflated (or copied out, for stored entries) when it was refused;
     * 0 when it was refused from its central directory alone.
     */
    public long inflatedBytes() {
        return inflatedBytes;
    }
}

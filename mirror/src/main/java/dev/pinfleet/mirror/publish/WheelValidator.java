package dev.pinfleet.mirror.publish;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.wheel.WheelArchive;
import dev.pinfleet.wheel.WheelFilename;
import dev.pinfleet.wheel.WheelMetadata;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Whether the mirror may publish a file: the wheel rules every agent applies ({@link WheelArchive#open}, from
 * the central directory and the metadata files, before anything else is inflated), then every file inflated
 * within the archive limits and checked against its RECORD hash ({@link WheelArchive#verifyContents}). So the
 * mirror refuses, once for the whole fleet, exactly what an agent would refuse to install for reasons of the
 * wheel itself.
 */
public final class WheelValidator {
    private WheelValidator() {}

    /**
     * Validates {@code wheel}, whose published name is {@code fileName}.
     *
     * @return its metadata
     * @throws PublishException (INVALID) whose message names the file, the entry and the rule; its cause is the
     *                          {@link ArchiveException} (which says how many bytes had been inflated)
     */
    public static WheelMetadata validate(Path wheel, String fileName) throws PublishException {
        try (WheelArchive w = WheelArchive.open(wheel, fileName)) {
            w.verifyContents();
            return w.metadata();
        } catch (ArchiveException e) {
            throw new PublishException(PublishException.Reason.INVALID, fileName, e.getMessage(), e);
        } catch (IOException e) {
            throw new PublishException(PublishException.Reason.INVALID, fileName,
                    fileName + ": cannot be read as a wheel (" + e.getMessage() + ")", e);
        }
    }

    /** Parses a wheel file name, or refuses it (INVALID). */
    public static WheelFilename parseName(String fileName) throws PublishException {
        try {
            return WheelFilename.parse(fileName);
        } catch (IllegalArgumentException e) {
            throw new PublishException(PublishException.Reason.INVALID, fileName, fileName + ": " + e.getMessage(), e);
        }
    }
}

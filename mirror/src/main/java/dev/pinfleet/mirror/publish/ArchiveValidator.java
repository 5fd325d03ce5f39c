package dev.pinfleet.mirror.publish;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.archive.ZipArchive;
import dev.pinfleet.manifest.Names;
import java.io.IOException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Whether the mirror may publish an application's code archive (an ARCHIVE artifact): a zip named
 * {@code NAME-VERSION.zip}, published under {@code packages/<normalized NAME>/} and left out of the simple index
 * (pip never installs it). Its central directory and every entry are checked as an agent checks them before it
 * extracts anything ({@link ZipArchive}: safe entry names, no links or duplicates, entry count, unpacked size and
 * compression ratio within the archive limits, every entry's size and CRC as it is inflated).
 */
public final class ArchiveValidator {
    private static final Pattern NAME = Pattern.compile("([A-Za-z0-9][A-Za-z0-9._-]*)-([A-Za-z0-9.+_]+)\\.zip");

    private ArchiveValidator() {}

    /** Whether {@code fileName} is an application archive (a {@code .zip}), not a wheel. */
    public static boolean isArchive(String fileName) {
        return fileName.endsWith(".zip");
    }

    /**
     * The normalized project an archive name belongs to (the part before its last '-').
     *
     * @throws PublishException (INVALID) when the name is not {@code NAME-VERSION.zip}
     */
    public static String project(String fileName) throws PublishException {
        Matcher m = NAME.matcher(fileName);
        String bad = Names.checkFileName(fileName);
        if (bad != null || !m.matches()) {
            throw new PublishException(PublishException.Reason.INVALID, fileName, fileName
                    + ": an application archive must be named NAME-VERSION.zip (letters, digits, '.', '_', '-')");
        }
        return Names.normalizeProject(m.group(1));
    }

    /**
     * Validates {@code file}, whose published name is {@code fileName}, by inflating every entry within the limits.
     *
     * @throws PublishException (INVALID) whose message names the file, the entry and the rule
     */
    public static void validate(Path file, String fileName) throws PublishException {
        try (ZipArchive zip = ZipArchive.open(file, fileName); ZipArchive.Scratch scratch = new ZipArchive.Scratch()) {
            for (ZipArchive.Entry e : zip.entries()) {
                if (!e.directory()) {
                    zip.extract(e, (b, off, len) -> { }, scratch);
                }
            }
        } catch (ArchiveException e) {
            throw new PublishException(PublishException.Reason.INVALID, fileName, e.getMessage(), e);
        } catch (IOException e) {
            throw new PublishException(PublishException.Reason.INVALID, fileName,
                    fileName + ": cannot be read as a zip archive (" + e.getMessage() + ")", e);
        }
    }
}

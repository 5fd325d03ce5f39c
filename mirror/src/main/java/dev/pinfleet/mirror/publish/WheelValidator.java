package dev.pinfleet.mirror.publish;

import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.wheel.WheelMetadata;
import dev.pinfleet.wheel.RecordFile;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Checks that a file is a wheel the mirror may publish: its name parses as a wheel file name; it is a
 * readable zip whose every entry inflates and matches its CRC; entry names are safe relative paths; it has
 * exactly one {@code .dist-info/METADATA}, in a directory named for the distribution, whose Name and
 * Version agree with the file name (names compared PEP 503 normalized); its RECORD exists, lists every other file with a hash, and every listed hash
 * matches.
 */
public final class WheelValidator {
    private WheelValidator() {}

    /** Largest RECORD accepted, in bytes. */
    static final int MAX_RECORD_BYTES = 64 * 1024 * 1024;

    /**
     * Validates {@code wheel}, whose published name is {@code fileName}.
     *
     * @return its metadata
     * @throws PublishException (INVALID) naming the file and what is wrong
     */
    public static WheelMetadata validate(Path wheel, String fileName) throws PublishException {
        WheelFilename wf = parseName(fileName);
        try (ZipFile zip = new ZipFile(wheel.toFile())) {
            WheelMetadata meta;
            try {
                meta = WheelMetadata.read(zip, fileName);
            } catch (IOException e) {
                throw invalid(fileName, e.getMessage(), e);
            }
            if (!wf.isFor(meta.name(), meta.version())) {
                throw invalid(fileName, "METADATA says Name '" + meta.name() + "' Version '" + meta.version()
                        + "', but the file name says '" + wf.distribution() + "' '" + wf.version() + "'");
            }
            String distInfo = distInfoOf(zip);
            int dash = distInfo.lastIndexOf('-');
            String distInfoName = dash > 0 ? distInfo.substring(0, dash) : distInfo;
            if (!Names.normalizeProject(distInfoName).equals(Names.normalizeProject(wf.distribution()))) {
                throw invalid(fileName, "its metadata directory " + distInfo + ".dist-info is not for '" + wf.distribution()
                        + "'");
            }
            checkEntries(zip, fileName, distInfo);
            return meta;
        } catch (ZipException e) {
            throw invalid(fileName, "not a valid zip archive (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw invalid(fileName, "cannot be read as a wheel (" + e.getMessage() + ")", e);
        }
    }

    /** Parses a wheel file name, or refuses it (INVALID). */
    public static WheelFilename parseName(String fileName) throws PublishException {
        try {
            return WheelFilename.parse(fileName);
        } catch (IllegalArgumentException e) {
            throw new PublishException(PublishException.Reason.INVALID, fileName, e.getMessage(), e);
        }
    }

    private static String distInfoOf(ZipFile zip) {
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            String n = en.nextElement().getName();
            if (n.matches("[^/]+\\.dist-info/METADATA")) {
                return n.substring(0, n.indexOf('/') - ".dist-info".length());
            }
        }
        throw new IllegalStateException("METADATA was found before; the archive changed while open");
    }

    private static void checkEntries(ZipFile zip, String fileName, String distInfo)
            throws PublishException, IOException {
        String recordName = distInfo + ".dist-info/RECORD";
        ZipEntry recordEntry = zip.getEntry(recordName);
        if (recordEntry == null || recordEntry.isDirectory()) {
            throw invalid(fileName, "has no " + recordName);
        }
        Map<String, RecordFile.Row> rows = new HashMap<>();
        byte[] recordBytes;
        try (InputStream in = zip.getInputStream(recordEntry)) {
            recordBytes = in.readNBytes(MAX_RECORD_BYTES + 1);
        }
        if (recordBytes.length > MAX_RECORD_BYTES) {
            throw invalid(fileName, recordName + " is larger than " + MAX_RECORD_BYTES + " bytes");
        }
        for (RecordFile.Row row : RecordFile.parse(new String(recordBytes, StandardCharsets.UTF_8))) {
            rows.put(row.path(), row);
        }
        byte[] buf = new byte[1 << 16];
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            ZipEntry e = en.nextElement();
            String name = e.getName();
            String path = e.isDirectory() ? name.substring(0, name.length() - 1) : name;
            String why = Names.checkRelativePath(path);
            if (why != null) {
                throw invalid(fileName, "unsafe entry name: " + why);
            }
            if (e.isDirectory()) {
                continue;
            }
            boolean isSignature = name.equals(recordName) || name.equals(recordName + ".jws")
                    || name.equals(recordName + ".p7s");
            RecordFile.Row row = rows.get(name);
            if (!isSignature && (row == null || row.hash().isEmpty())) {
                throw invalid(fileName, "entry " + name + " is not listed with a hash in " + recordName);
            }
            MessageDigest md;
            try {
                md = isSignature ? null : RecordFile.digestFor(row.hash());
            } catch (IllegalArgumentException ex) {
                throw invalid(fileName, recordName + ": " + ex.getMessage(), ex);
            }
            CRC32 crc = new CRC32();
            long size = 0;
            try (InputStream in = zip.getInputStream(e)) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    crc.update(buf, 0, n);
                    if (md != null) {
                        md.update(buf, 0, n);
                    }
                    size += n;
                }
            } catch (IOException ex) {
                throw invalid(fileName, "entry " + name + " cannot be inflated (" + ex.getMessage() + ")", ex);
            }
            if (e.getCrc() != -1 && crc.getValue() != e.getCrc()) {
                throw invalid(fileName, "entry " + name + " fails its CRC check: the archive is corrupt");
            }
            if (md != null) {
                boolean ok;
                try {
                    ok = RecordFile.matches(row.hash(), md.digest());
                } catch (IllegalArgumentException ex) {
                    throw invalid(fileName, recordName + ": " + ex.getMessage(), ex);
                }
                if (!ok) {
                    throw invalid(fileName, "entry " + name + " does not match its hash in " + recordName);
                }
                if (!row.size().isEmpty() && !row.size().equals(Long.toString(size))) {
                    throw invalid(fileName, "entry " + name + " has " + size + " bytes, " + recordName + " says "
                            + row.size());
                }
            }
        }
    }

    private static PublishException invalid(String fileName, String why) {
        return new PublishException(PublishException.Reason.INVALID, fileName, fileName + ": " + why);
    }

    private static PublishException invalid(String fileName, String why, Throwable cause) {
        return new PublishException(PublishException.Reason.INVALID, fileName, fileName + ": " + why, cause);
    }
}

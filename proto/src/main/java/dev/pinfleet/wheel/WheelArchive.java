package dev.pinfleet.wheel;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.archive.ZipArchive;
import dev.pinfleet.manifest.Names;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A wheel opened and checked: the one definition of a valid wheel, used by the agent before it unpacks, by the
 * mirror's publisher (local, HTTP upload and {@code import-venv}) before it publishes, and by freeze.
 *
 * <p>{@link #open} refuses, before any file of the wheel is inflated (only the small metadata files are read):
 * a file name that is not a wheel's; everything {@link ZipArchive#open} refuses from the central directory
 * (unsafe or duplicate names, symbolic links and other non-regular entries, encryption, unknown compression,
 * more entries, more unpacked bytes or a higher compression ratio than {@link dev.pinfleet.archive.ArchiveLimits}
 * allows); not exactly one top-level {@code .dist-info} directory, or one not named for the file name's
 * distribution; a missing WHEEL, or one whose Wheel-Version is not 1.x or whose Root-Is-Purelib is not
 * true/false; a missing METADATA, or one whose Name and Version are not the file name's (names compared PEP 503
 * normalized, versions with '-' as '_' and case folded); an {@code entry_points.txt} declaring a script name
 * that is not a plain file name or a target that is not module:attr; a missing RECORD, a file not listed in it
 * with a hash of an accepted algorithm (sha256, sha384, sha512; RECORD and its signatures excepted), a size in
 * RECORD that differs from the central directory's; a {@code .data} file outside the scheme's keys.
 *
 * <p>The contents are checked against RECORD as they are inflated: all at once by {@link #verifyContents}
 * (the mirror), or entry by entry with {@link #checkHash} while unpacking (the agent, which hashes each byte
 * once on its way to disk).
 */
public final class WheelArchive implements Closeable {
    private static final Set<String> RECORD_SIGNATURES = Set.of("RECORD.jws", "RECORD.p7s");

    private final ZipArchive zip;
    private final ZipArchive.Scratch ownScratch;
    private final WheelFilename fileName;
    private final String distInfo;
    private final boolean purelib;
    private final WheelMetadata metadata;
    private final List<EntryPoints.Script> scripts;
    private final Map<String, String> record;
    private final List<ZipArchive.Entry> hashed;
    private final List<ZipArchive.Entry> payload;

    private WheelArchive(ZipArchive zip, ZipArchive.Scratch ownScratch, WheelFilename fileName, String distInfo,
            boolean purelib, WheelMetadata metadata, List<EntryPoints.Script> scripts, Map<String, String> record,
            List<ZipArchive.Entry> hashed, List<ZipArchive.Entry> payload) {
        this.zip = zip;
        this.ownScratch = ownScratch;
        this.fileName = fileName;
        this.distInfo = distInfo;
        this.purelib = purelib;
        this.metadata = metadata;
        this.scripts = scripts;
        this.record = record;
        this.hashed = hashed;
        this.payload = payload;
    }

    /** As {@link #open(Path, String, ZipArchive.Scratch)} with buffers of its own, released by {@link #close}. */
    public static WheelArchive open(Path file, String fileName) throws IOException, ArchiveException {
        ZipArchive.Scratch scratch = new ZipArchive.Scratch();
        try {
            return open(file, fileName, scratch, scratch);
        } catch (IOException | ArchiveException | RuntimeException e) {
            scratch.close();
            throw e;
        }
    }

    /**
     * Opens {@code file}, whose (published or manifest) name is {@code fileName}, and checks it as the class
     * comment says. {@code scratch} is the calling thread's; it is used only during this call.
     *
     * @throws ArchiveException naming the file, the entry and the rule it breaks
     */
    public static WheelArchive open(Path file, String fileName, ZipArchive.Scratch scratch)
            throws IOException, ArchiveException {
        return open(file, fileName, scratch, null);
    }

    private static WheelArchive open(Path file, String label, ZipArchive.Scratch scratch, ZipArchive.Scratch own)
            throws IOException, ArchiveException {
        WheelFilename wf;
        try {
            wf = WheelFilename.parse(label);
        } catch (IllegalArgumentException e) {
            throw ArchiveException.of(label, e.getMessage());
        }
        ZipArchive zip = ZipArchive.open(file, label);
        try {
            List<ZipArchive.Entry> entries = zip.entries();
            Map<String, ZipArchive.Entry> byName = new HashMap<>(entries.size() * 2);
            for (ZipArchive.Entry e : entries) {
                byName.put(e.name(), e);
            }
            String distInfo = findDistInfo(zip);
            String why = checkDistInfo(wf, distInfo);
            if (why != null) {
                throw zip.refusal(distInfo, why);
            }
            Headers wheel = Headers.parse(WheelMetadata.decode(required(zip, byName, distInfo + "/WHEEL", scratch)));
            String wheelVersion = String.valueOf(wheel.first("Wheel-Version"));
            if (!wheelVersion.startsWith("1.")) {
                throw zip.refusal(distInfo + "/WHEEL", "Wheel-Version '" + Names.printable(wheelVersion)
                        + "' is not supported (only 1.x)");
            }
            String rootIsPurelib = String.valueOf(wheel.first("Root-Is-Purelib")).toLowerCase(Locale.ROOT);
            if (!rootIsPurelib.equals("true") && !rootIsPurelib.equals("false")) {
                throw zip.refusal(distInfo + "/WHEEL", "Root-Is-Purelib must be true or false");
            }
            WheelMetadata metadata;
            try {
                metadata = WheelMetadata.parse(WheelMetadata.decode(
                        required(zip, byName, distInfo + "/METADATA", scratch)));
            } catch (IllegalArgumentException e) {
                throw zip.refusal(distInfo + "/METADATA", e.getMessage());
            }
            why = checkIdentity(wf, metadata.name(), metadata.version());
            if (why != null) {
                throw zip.refusal(distInfo + "/METADATA", why);
            }
            List<EntryPoints.Script> scripts = List.of();
            ZipArchive.Entry ep = byName.get(distInfo + "/entry_points.txt");
            if (ep != null && !ep.directory()) {
                try {
                    scripts = List.copyOf(EntryPoints.parse(zip.read(ep, scratch)));
                } catch (IllegalArgumentException e) {
                    throw zip.refusal(ep.name(), e.getMessage());
                }
            }
            String recordName = distInfo + "/RECORD";
            Map<String, RecordFile.Row> rows = new HashMap<>();
            for (RecordFile.Row r : RecordFile.parse(required(zip, byName, recordName, scratch))) {
                rows.put(r.path(), r);
            }
            String dataDir = dataDir(distInfo);
            Map<String, String> record = new HashMap<>(rows.size() * 2);
            List<ZipArchive.Entry> hashed = new ArrayList<>(entries.size());
            List<ZipArchive.Entry> payload = new ArrayList<>(entries.size());
            for (ZipArchive.Entry e : entries) {
                if (e.directory() || e.name().equals(recordName) || isRecordSignature(e.name(), distInfo)) {
                    continue;
                }
                RecordFile.Row row = rows.get(e.name());
                if (row == null || row.hash().isEmpty()) {
                    throw zip.refusal(e.name(), "is not listed with a hash in " + recordName);
                }
                try {
                    RecordFile.algorithm(row.hash());
                } catch (IllegalArgumentException ex) {
                    throw zip.refusal(recordName, ex.getMessage() + " (for " + Names.printable(e.name()) + ")");
                }
                if (!row.size().isEmpty() && !row.size().equals(Long.toString(e.size()))) {
                    throw zip.refusal(e.name(), "has " + e.size() + " bytes, " + recordName + " says "
                            + Names.printable(row.size()));
                }
                why = InstallScheme.checkDataPath(dataDir, e.name());
                if (why != null) {
                    throw zip.refusal(e.name(), why);
                }
                record.put(e.name(), row.hash());
                hashed.add(e);
                if (!e.name().equals(distInfo + "/INSTALLER")) {
                    payload.add(e);
                }
            }
            return new WheelArchive(zip, own, wf, distInfo, rootIsPurelib.equals("true"), metadata, scripts,
                    record, List.copyOf(hashed), List.copyOf(payload));
        } catch (IOException | ArchiveException | RuntimeException e) {
            zip.close();
            throw e;
        }
    }

    /**
     * Null when a wheel named {@code wf} may carry METADATA with {@code name} and {@code version}, else why not:
     * names compared PEP 503 normalized, versions with '-' as '_' and case folded.
     */
    public static String checkIdentity(WheelFilename wf, String name, String version) {
        if (!Names.normalizeProject(name).equals(Names.normalizeProject(wf.distribution()))
                || !sameVersion(version, wf.version())) {
            return "names " + Names.printable(name) + " " + Names.printable(version) + ", but the file name is for "
                    + wf.distribution() + " " + wf.version();
        }
        return null;
    }

    /** Null when {@code distInfo} ({@code <name>-<version>.dist-info}) belongs to the distribution {@code wf} names. */
    public static String checkDistInfo(WheelFilename wf, String distInfo) {
        String stem = distInfo.substring(0, distInfo.length() - ".dist-info".length());
        String distInfoName = stem.contains("-") ? stem.substring(0, stem.lastIndexOf('-')) : stem;
        if (!Names.normalizeProject(distInfoName).equals(Names.normalizeProject(wf.distribution()))) {
            return "does not belong to distribution " + wf.distribution() + " that the file name names";
        }
        return null;
    }

    /** The {@code <name>-<version>.data} directory that goes with a {@code .dist-info} directory. */
    public static String dataDir(String distInfo) {
        return distInfo.substring(0, distInfo.length() - ".dist-info".length()) + ".data";
    }

    /** The checked archive, for extracting entries. */
    public ZipArchive zip() {
        return zip;
    }

    /** The parsed file name. */
    public WheelFilename fileName() {
        return fileName;
    }

    /** The one {@code <name>-<version>.dist-info} directory. */
    public String distInfo() {
        return distInfo;
    }

    /** The WHEEL file's Root-Is-Purelib. */
    public boolean purelib() {
        return purelib;
    }

    /** The METADATA. */
    public WheelMetadata metadata() {
        return metadata;
    }

    /** The console and GUI scripts of {@code entry_points.txt} (none when it is absent). */
    public List<EntryPoints.Script> scripts() {
        return scripts;
    }

    /**
     * The files an installer writes, in archive order: every file except RECORD, its signatures and INSTALLER
     * (the installer writes those per installation).
     */
    public List<ZipArchive.Entry> payload() {
        return payload;
    }

    /**
     * One path installing a wheel creates.
     *
     * @param path     relative to the environment's root ({@link InstallScheme})
     * @param hash     the file's RECORD hash ({@code algo=b64}), or the empty string for a file the installer writes
     *                 (a launcher, INSTALLER, RECORD)
     * @param size     the file's size in bytes from the central directory, or -1 for a file the installer writes
     * @param identity what the file holds, for {@link PathOwners}: a payload file's RECORD hash and mode (executable
     *                 when its entry is, or when it lies in the {@code .data} scripts), a launcher's entry point, or
     *                 for INSTALLER and RECORD this wheel (never shared)
     */
    public record InstalledFile(String path, String hash, long size, PathOwners.Identity identity) {}

    /**
     * What installing this wheel under {@code scheme} creates, from the central directory and RECORD alone
     * (nothing inflated): every payload file with its RECORD hash, then a launcher per script and the
     * {@code INSTALLER} and {@code RECORD} the installer writes; a path written twice is listed once, the later
     * one winning (as an installer overwrites).
     */
    public List<InstalledFile> installedFiles(InstallScheme scheme) {
        Map<String, InstalledFile> out = new LinkedHashMap<>();
        String dataDir = dataDir(distInfo);
        String scriptsDir = dataDir + "/scripts/";
        for (ZipArchive.Entry e : payload) {
            String path = scheme.target(dataDir, metadata.name(), purelib, e.name());
            String hash = record.get(e.name());
            boolean executable = e.executable() || e.name().startsWith(scriptsDir);
            out.remove(path);
            out.put(path, new InstalledFile(path, hash, e.size(), new PathOwners.Identity("file", hash, executable)));
        }
        for (EntryPoints.Script s : scripts) {
            String path = scheme.script(s.name());
            out.remove(path);
            out.put(path, new InstalledFile(path, "", -1,
                    new PathOwners.Identity("launcher", s.module() + ":" + s.attr(), true)));
        }
        for (String file : List.of("INSTALLER", "RECORD")) {
            String path = scheme.distInfoFile(distInfo, purelib, file);
            out.remove(path);
            out.put(path, new InstalledFile(path, "", -1, new PathOwners.Identity("metadata", distInfo, false)));
        }
        return List.copyOf(out.values());
    }

    /** The paths of {@link #installedFiles}, in the same order. */
    public List<String> installPaths(InstallScheme scheme) {
        return installedFiles(scheme).stream().map(InstalledFile::path).toList();
    }

    /**
     * A fresh digest for the algorithm RECORD uses for {@code e}, or null when it is SHA-256 (the digest
     * callers compute anyway).
     */
    public MessageDigest otherDigest(ZipArchive.Entry e) {
        String hash = record.get(e.name());
        return hash.startsWith("sha256=") ? null : RecordFile.digestFor(hash);
    }

    /**
     * Checks the digest of {@code e}'s content (computed with the algorithm of its RECORD row: SHA-256 unless
     * {@link #otherDigest} gave another) against RECORD.
     *
     * @throws ArchiveException naming the entry and both hashes when they differ
     */
    public void checkHash(ZipArchive.Entry e, byte[] digest) throws ArchiveException {
        String declared = record.get(e.name());
        boolean ok;
        try {
            ok = RecordFile.matches(declared, digest);
        } catch (IllegalArgumentException ex) {
            throw zip.refusal(distInfo + "/RECORD", ex.getMessage() + " (for " + Names.printable(e.name()) + ")");
        }
        if (!ok) {
            String actual = declared.substring(0, declared.indexOf('=') + 1)
                    + Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
            throw zip.refusal(e.name(), "content does not match its RECORD hash (" + declared + ", actual " + actual
                    + ")");
        }
    }

    /**
     * Inflates every file listed in RECORD (within the limits {@link #open} checked) and checks its hash: what
     * the mirror does before it publishes.
     *
     * @throws ArchiveException naming the entry that does not match, or the zip damage found
     */
    public void verifyContents(ZipArchive.Scratch scratch) throws IOException, ArchiveException {
        for (ZipArchive.Entry e : hashed) {
            MessageDigest md = RecordFile.digestFor(record.get(e.name()));
            zip.extract(e, md::update, scratch);
            checkHash(e, md.digest());
        }
    }

    /** {@link #verifyContents(ZipArchive.Scratch)} with the buffers this archive was opened with. */
    public void verifyContents() throws IOException, ArchiveException {
        if (ownScratch == null) {
            throw new IllegalStateException("opened with the caller's scratch buffers: pass them");
        }
        verifyContents(ownScratch);
    }

    @Override
    public void close() throws IOException {
        try {
            zip.close();
        } finally {
            if (ownScratch != null) {
                ownScratch.close();
            }
        }
    }

    private static boolean isRecordSignature(String name, String distInfo) {
        return name.length() > distInfo.length() + 1 && name.startsWith(distInfo) && name.charAt(distInfo.length()) == '/'
                && RECORD_SIGNATURES.contains(name.substring(distInfo.length() + 1));
    }

    private static String findDistInfo(ZipArchive zip) throws ArchiveException {
        Set<String> found = new HashSet<>();
        for (ZipArchive.Entry e : zip.entries()) {
            int slash = e.name().indexOf('/');
            String top = slash < 0 ? e.name() : e.name().substring(0, slash);
            if (top.endsWith(".dist-info") && (slash > 0 || e.directory())) {
                found.add(top);
            }
        }
        if (found.size() != 1) {
            throw zip.refusal(null, found.isEmpty() ? "no .dist-info directory"
                    : "more than one .dist-info directory: " + new TreeSet<>(found));
        }
        return found.iterator().next();
    }

    private static byte[] required(ZipArchive zip, Map<String, ZipArchive.Entry> byName, String name,
            ZipArchive.Scratch scratch) throws IOException, ArchiveException {
        ZipArchive.Entry e = byName.get(name);
        if (e == null || e.directory()) {
            throw zip.refusal(name, "missing; every wheel must have it");
        }
        return zip.read(e, scratch);
    }

    /** Whether two spellings name the same version as wheel file names compare them: '-' as '_', case folded. */
    public static boolean sameVersion(String a, String b) {
        return a.replace('-', '_').toLowerCase(Locale.ROOT).equals(b.replace('-', '_').toLowerCase(Locale.ROOT));
    }
}

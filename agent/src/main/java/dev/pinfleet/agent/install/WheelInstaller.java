package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Hashing;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntPredicate;

/**
 * Puts one planned wheel into a release whose directories already exist: hard links from the cache
 * (copies when linking is impossible), rewritten {@code #!python} scripts, entry point launchers,
 * INSTALLER and RECORD. Nothing is fsynced here.
 */
final class WheelInstaller {
    private static final Set<PosixFilePermission> EXECUTABLE = PosixFilePermissions.fromString("rwxr-xr-x");
    private static final byte[] INSTALLER = "pinfleet\n".getBytes(StandardCharsets.US_ASCII);

    private final Path staging;
    private final String shebang;
    private final String siteToRoot;
    private final String site;
    /** Set once linking failed across devices: every later file is copied without trying to link. */
    private final AtomicBoolean copyOnly;

    /**
     * @param staging where the release is being built
     * @param finalDir where the release will live; scripts and launchers name {@code finalDir/bin/python}
     */
    WheelInstaller(Path staging, Path finalDir, PythonInfo python, AtomicBoolean copyOnly) {
        this.staging = staging;
        this.shebang = EntryPoints.shebang(finalDir.resolve("bin/python").toString());
        this.site = python.sitePackagesRelative();
        this.siteToRoot = "../".repeat(site.split("/").length);
        this.copyOnly = copyOnly;
    }

    /**
     * Installs the placements this plan owns ({@code owns} tells, by placement position, which ones a later
     * wheel did not replace) and writes its RECORD listing all of them.
     *
     * @return true when every file was hard-linked, false when any was copied
     */
    boolean install(WheelPlan plan, IntPredicate owns) throws IOException, InstallException {
        boolean allLinked = true;
        List<RecordFile.Row> rows = new ArrayList<>(plan.placements().size());
        String recordTarget = null;
        int i = 0;
        for (WheelPlan.Placement p : plan.placements().values()) {
            boolean mine = owns.test(i++);
            Path dest = staging.resolve(p.target());
            switch (p.kind()) {
                case LINK -> {
                    if (mine) {
                        allLinked &= link(plan.index().file(p.source().path()), dest, p.source().executable());
                    }
                    rows.add(row(p.target(), p.source().hash(), p.source().size()));
                }
                case SCRIPT -> {
                    byte[] content = rewriteShebang(plan.index().file(p.source().path()));
                    if (mine) {
                        write(dest, content, true);
                    }
                    rows.add(row(p.target(), RecordFile.hash(Hashing.sha256().digest(content)), content.length));
                }
                case LAUNCHER -> {
                    byte[] content = EntryPoints.launcher(shebang, p.script());
                    if (mine) {
                        write(dest, content, true);
                    }
                    rows.add(row(p.target(), RecordFile.hash(Hashing.sha256().digest(content)), content.length));
                }
                case INSTALLER -> {
                    write(dest, INSTALLER, false);
                    rows.add(row(p.target(), RecordFile.hash(Hashing.sha256().digest(INSTALLER)), INSTALLER.length));
                }
                case RECORD -> recordTarget = p.target();
                default -> throw new IllegalStateException("unknown placement kind " + p.kind());
            }
        }
        rows.add(new RecordFile.Row(recordPath(recordTarget), "", ""));
        write(staging.resolve(recordTarget), RecordFile.write(rows), false);
        return allLinked;
    }

    private RecordFile.Row row(String target, String hash, long size) {
        return new RecordFile.Row(recordPath(target), hash, Long.toString(size));
    }

    /** A release path as RECORD names it: relative to site-packages. */
    private String recordPath(String target) {
        return target.startsWith(site + "/") ? target.substring(site.length() + 1) : siteToRoot + target;
    }

    /** The script with its first line replaced by the release's shebang, as pip's fix_script does. */
    private byte[] rewriteShebang(Path cached) throws IOException {
        byte[] content = Files.readAllBytes(cached);
        int eol = 0;
        while (eol < content.length && content[eol] != '\n') {
            eol++;
        }
        int restStart = Math.min(eol + 1, content.length);
        byte[] head = shebang.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[head.length + content.length - restStart];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(content, restStart, out, head.length, content.length - restStart);
        return out;
    }

    /** Hard-links {@code source} to {@code dest}, or copies it; returns whether it was linked. */
    private boolean link(Path source, Path dest, boolean executable) throws IOException {
        if (!copyOnly.get()) {
            try {
                Files.createLink(dest, source);
                return true;
            } catch (FileAlreadyExistsException e) {
                throw e;
            } catch (FileSystemException e) {
                if (e.getReason() != null && e.getReason().contains("cross-device")) {
                    copyOnly.set(true);
                }
            } catch (UnsupportedOperationException e) {
                copyOnly.set(true);
            }
        }
        try (InputStream in = Files.newInputStream(source);
                OutputStream out = Files.newOutputStream(dest, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            in.transferTo(out);
        }
        if (executable) {
            Files.setPosixFilePermissions(dest, EXECUTABLE);
        }
        return false;
    }

    private static void write(Path dest, byte[] content, boolean executable) throws IOException {
        Files.write(dest, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        if (executable) {
            Files.setPosixFilePermissions(dest, EXECUTABLE);
        }
    }
}

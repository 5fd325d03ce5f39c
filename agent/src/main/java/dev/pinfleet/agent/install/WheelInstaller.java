package dev.pinfleet.agent.install;

import dev.pinfleet.agent.fs.AppReadable;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.wheel.RecordFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntPredicate;

/**
 * Puts planned wheels into a release whose directories already exist, in two steps that may run on any
 * thread: {@link #link} hard-links cached files (copies when linking is impossible), {@link #finish} writes
 * what differs per release: rewritten {@code #!python} scripts, entry point launchers, INSTALLER and RECORD.
 * Files are written writable by the agent's user only ({@link AppReadable}); nothing is fsynced here.
 */
final class WheelInstaller {
    private static final byte[] INSTALLER = "pinfleet\n".getBytes(StandardCharsets.US_ASCII);

    /** One cached file to appear in the release. */
    record Link(Path source, Path dest, boolean executable) {}

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
        this.shebang = Launchers.shebang(finalDir.resolve("bin/python").toString());
        this.site = python.sitePackagesRelative();
        this.siteToRoot = "../".repeat(site.split("/").length);
        this.copyOnly = copyOnly;
    }

    /** The cached files of the placements this plan owns ({@code owns} by placement position). */
    List<Link> links(WheelPlan plan, IntPredicate owns) {
        List<Link> out = new ArrayList<>(plan.placements().size());
        Path files = plan.index().dir().resolve("files");
        int i = 0;
        for (WheelPlan.Placement p : plan.placements().values()) {
            if (owns.test(i++) && p.kind() == WheelPlan.Kind.LINK) {
                out.add(new Link(files.resolve(p.source().path()), staging.resolve(p.target()), p.source().executable()));
            }
        }
        return out;
    }

    /** Links (or copies) each file; returns true when every one was hard-linked. */
    boolean link(List<Link> links) throws IOException {
        boolean all = true;
        for (Link l : links) {
            all &= link(l.source(), l.dest(), l.executable());
        }
        return all;
    }

    /** The RECORD rows of a plan's files that come from the cache as they are: the same in every release. */
    byte[] linkRows(WheelPlan plan) {
        List<RecordFile.Row> rows = new ArrayList<>(plan.placements().size());
        for (WheelPlan.Placement p : plan.placements().values()) {
            if (p.kind() == WheelPlan.Kind.LINK) {
                rows.add(row(p.target(), p.source().hash(), p.source().size()));
            }
        }
        return RecordFile.write(rows);
    }

    /**
     * Writes the per-release files of a plan (rewritten scripts, launchers, INSTALLER) that it owns and its
     * RECORD, which lists every file of the wheel as installed: {@code linkRows} (from {@link #linkRows}), then
     * the rows of the files written here.
     */
    void finish(WheelPlan plan, IntPredicate owns, byte[] linkRows) throws IOException {
        List<RecordFile.Row> rows = new ArrayList<>();
        String recordTarget = null;
        int i = 0;
        for (WheelPlan.Placement p : plan.placements().values()) {
            boolean mine = owns.test(i++);
            Path dest = staging.resolve(p.target());
            switch (p.kind()) {
                case LINK -> { }
                case SCRIPT -> {
                    byte[] content = rewriteShebang(plan.index().file(p.source().path()));
                    if (mine) {
                        write(dest, content, true);
                    }
                    rows.add(row(p.target(), RecordFile.sha256Field(Hashing.sha256().digest(content)), content.length));
                }
                case LAUNCHER -> {
                    byte[] content = Launchers.launcher(shebang, p.script());
                    if (mine) {
                        write(dest, content, true);
                    }
                    rows.add(row(p.target(), RecordFile.sha256Field(Hashing.sha256().digest(content)), content.length));
                }
                case INSTALLER -> {
                    write(dest, INSTALLER, false);
                    rows.add(row(p.target(), RecordFile.sha256Field(Hashing.sha256().digest(INSTALLER)), INSTALLER.length));
                }
                case RECORD -> recordTarget = p.target();
                default -> throw new IllegalStateException("unknown placement kind " + p.kind());
            }
        }
        rows.add(new RecordFile.Row(recordPath(recordTarget), "", ""));
        byte[] own = RecordFile.write(rows);
        byte[] record = java.util.Arrays.copyOf(linkRows, linkRows.length + own.length);
        System.arraycopy(own, 0, record, linkRows.length, own.length);
        write(staging.resolve(recordTarget), record, false);
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
                // Any refused link falls back to a copy of this file; links stop being tried for
                // good only when the cache and the release are on different file stores, which is
                // decided by the stores themselves, not by the wording of the error.
                if (!Files.getFileStore(source).equals(Files.getFileStore(dest.getParent()))) {
                    copyOnly.set(true);
                }
            } catch (UnsupportedOperationException e) {
                copyOnly.set(true);
            }
        }
        AppReadable.copy(source, dest, executable);
        return false;
    }

    private static void write(Path dest, byte[] content, boolean executable) throws IOException {
        AppReadable.write(dest, content, executable);
    }
}

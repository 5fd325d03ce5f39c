package dev.pinfleet.mirror.audit;

import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.IndexedFile;
import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.SimplePages;
import dev.pinfleet.mirror.publish.AuditRecord;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Checks a mirror directory against its audit log: re-hashes every file under {@code packages/} and reports
 * files whose bytes differ from their audit line (tampered), audit lines whose file is gone (missing), files
 * no audit line accounts for (unlogged), symbolic links and other non-regular entries anywhere in the mirror
 * ({@code packages/}, {@code simple/}, the policy, the logs, dot-directories), unreadable audit lines, and
 * static index pages that do not list the files as they are. Regular dot-files (a publish in progress, the
 * index cache) are neither served nor hashed. Read-only: it never changes the mirror.
 */
public final class MirrorVerifier {
    private MirrorVerifier() {}

    /** Verifies {@code mirror}; see the class comment. */
    public static VerifyReport verify(Path mirror) throws IOException {
        List<Finding> findings = new ArrayList<>();
        Map<String, AuditLog.Line> logged = new HashMap<>();
        int records = 0;
        for (AuditLog.Line line : AuditLog.read(mirror)) {
            if (line.record() == null) {
                findings.add(new Finding(Finding.Kind.BAD_AUDIT_LOG, AuditRecord.FILE_NAME,
                        "line " + line.line() + " cannot be read: " + line.error()));
                continue;
            }
            if (line.record().isRefusal()) {
                continue; // a wheel refused for its content: nothing was placed, nothing to check
            }
            records++;
            AuditLog.Line first = logged.putIfAbsent(line.record().file(), line);
            if (first != null && !first.record().sha256().equals(line.record().sha256())) {
                findings.add(new Finding(Finding.Kind.BAD_AUDIT_LOG, line.record().file(),
                        "recorded twice with different sha256: line " + first.line() + " says "
                                + first.record().sha256() + ", line " + line.line() + " says " + line.record().sha256()
                                + " (published files never change; the first record is the one checked)"));
            }
        }

        SortedMap<String, List<IndexedFile>> projects = new TreeMap<>();
        int[] checked = {0};
        Path root = mirror.toRealPath();
        Path packages = root.resolve(MirrorIndex.PACKAGES);
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                String rel = relative(root, f);
                if (!a.isRegularFile()) {
                    // anywhere in the mirror: what a link points to was never audited, and a server may follow it
                    findings.add(new Finding(Finding.Kind.NOT_REGULAR, rel, (a.isSymbolicLink()
                            ? "a symbolic link (to " + Files.readSymbolicLink(f) + ")" : "not a regular file")
                            + " in the mirror; the publisher never creates one, and neither server serves it"));
                    logged.remove(rel);
                    return FileVisitResult.CONTINUE;
                }
                if (!f.startsWith(packages) || rel.contains("/.") || rel.startsWith(".")) {
                    return FileVisitResult.CONTINUE; // not a published file, or a publish in progress
                }
                checked[0]++;
                String sha = Hashing.sha256Hex(f);
                AuditLog.Line line = logged.remove(rel);
                if (line == null) {
                    findings.add(new Finding(Finding.Kind.UNLOGGED, rel, "sha256 " + sha + ", " + a.size()
                            + " bytes; no line of " + AuditRecord.FILE_NAME + " records it"));
                } else if (!line.record().sha256().equals(sha) || line.record().size() != a.size()) {
                    AuditRecord r = line.record();
                    findings.add(new Finding(Finding.Kind.TAMPERED, rel, "sha256 " + sha + " (" + a.size()
                            + " bytes) on disk, but " + AuditRecord.FILE_NAME + ":" + line.line() + " records sha256 "
                            + r.sha256() + " (" + r.size() + " bytes), published by " + r.user() + " at " + r.time()));
                }
                Path parent = f.getParent();
                if (parent.getParent().equals(packages)) {
                    String project = parent.getFileName().toString();
                    String name = f.getFileName().toString();
                    if (MirrorIndex.isNormalizedProject(project) && MirrorIndex.lists(name)) {
                        projects.computeIfAbsent(project, k -> new ArrayList<>()).add(new IndexedFile(project, name,
                                a.size(), sha, MirrorIndex.requiresPython(f, name)));
                    }
                }
                return FileVisitResult.CONTINUE;
            }
        });
        for (AuditLog.Line line : logged.values()) {
            AuditRecord r = line.record();
            findings.add(new Finding(Finding.Kind.MISSING, r.file(), "recorded at " + AuditRecord.FILE_NAME + ":"
                    + line.line() + " (sha256 " + r.sha256() + ", published by " + r.user() + " at " + r.time()
                    + ") but not on disk"));
        }
        checkIndex(root, projects, findings);
        findings.sort(Comparator.comparing(Finding::kind).thenComparing(Finding::path));
        return new VerifyReport(checked[0], records, findings);
    }

    private static void checkIndex(Path mirror, SortedMap<String, List<IndexedFile>> projects,
            List<Finding> findings) throws IOException {
        String hint = "run 'pinfleet mirror index' once the other findings are resolved";
        Path simple = mirror.resolve(MirrorIndex.SIMPLE);
        for (Map.Entry<String, List<IndexedFile>> e : projects.entrySet()) {
            e.getValue().sort(Comparator.comparing(IndexedFile::filename));
            comparePage(mirror, simple.resolve(e.getKey()).resolve(MirrorIndex.INDEX_HTML),
                    SimplePages.projectHtml(e.getKey(), e.getValue()), hint, findings);
        }
        comparePage(mirror, simple.resolve(MirrorIndex.INDEX_HTML), SimplePages.rootHtml(projects.keySet()), hint,
                findings);
        if (Files.isDirectory(simple)) {
            try (var ds = Files.newDirectoryStream(simple)) {
                for (Path p : ds) {
                    String name = p.getFileName().toString();
                    if (MirrorIndex.isNormalizedProject(name) && !projects.containsKey(name)
                            && Files.exists(p.resolve(MirrorIndex.INDEX_HTML))) {
                        findings.add(new Finding(Finding.Kind.STALE_INDEX, relative(mirror, p.resolve(
                                MirrorIndex.INDEX_HTML)), "lists project " + name + ", which has no files; " + hint));
                    }
                }
            }
        }
    }

    private static void comparePage(Path mirror, Path page, String expected, String hint, List<Finding> findings)
            throws IOException {
        byte[] onDisk;
        try {
            onDisk = Files.readAllBytes(page);
        } catch (NoSuchFileException e) {
            findings.add(new Finding(Finding.Kind.STALE_INDEX, relative(mirror, page), "missing; " + hint));
            return;
        }
        if (!Arrays.equals(onDisk, expected.getBytes(StandardCharsets.UTF_8))) {
            findings.add(new Finding(Finding.Kind.STALE_INDEX, relative(mirror, page),
                    "does not list the files as they are on disk (names, sha256, Requires-Python); " + hint));
        }
    }

    private static String relative(Path mirror, Path p) {
        return mirror.relativize(p).toString().replace('\\', '/');
    }
}

package dev.pinfleet.mirror.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.publish.Publisher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MirrorVerifierTest {
    @TempDir
    Path tmp;
    private Path mirror;

    private static final String A = "packages/alpha/alpha-1.0-py3-none-any.whl";
    private static final String B = "packages/beta/beta-2.0-py3-none-any.whl";

    @BeforeEach
    void publish() throws Exception {
        mirror = tmp.resolve("mirror");
        new Publisher().publishAll(mirror, List.of(
                TestWheels.wheel(tmp.resolve("in"), "alpha", "1.0", ">=3.8", Map.of("alpha.py", "A = 1\n")),
                TestWheels.wheel(tmp.resolve("in"), "beta", "2.0", "", Map.of("beta.py", "B = 2\n"))), "alice", "1");
    }

    @Test
    void anUntouchedMirrorVerifies() throws Exception {
        VerifyReport r = MirrorVerifier.verify(mirror);
        assertTrue(r.ok(), r.findings().toString());
        assertEquals(2, r.filesChecked());
        assertEquals(2, r.auditRecords());
    }

    @Test
    void aFileTamperedOnDiskIsReportedWithItsAuditLine() throws Exception {
        Path a = mirror.resolve(A);
        byte[] bytes = Files.readAllBytes(a);
        FileTime mtime = Files.getLastModifiedTime(a);
        bytes[bytes.length / 2] ^= 1; // same size, same mtime: only the digest tells
        Files.write(a, bytes);
        Files.setLastModifiedTime(a, mtime);

        VerifyReport r = MirrorVerifier.verify(mirror);
        assertEquals(1, r.count(Finding.Kind.TAMPERED), r.findings().toString());
        Finding f = r.findings().get(0);
        assertEquals(A, f.path());
        assertTrue(f.detail().contains("audit.log:1 records sha256") && f.detail().contains("published by alice"),
                f.detail());
        assertTrue(f.toString().startsWith("tampered " + A + ": sha256 "), f.toString());
    }

    @Test
    void missingUnloggedNonRegularAndBadLogLinesAreAllReported() throws Exception {
        Files.delete(mirror.resolve(B));
        Files.writeString(mirror.resolve("packages/alpha/alpha-9.9-py3-none-any.whl"), "slipped in");
        Files.createSymbolicLink(mirror.resolve("packages/alpha/alpha-6.6-py3-none-any.whl"), tmp.resolve("elsewhere"));
        Files.writeString(mirror.resolve("packages/alpha/.alpha-2.0.whl.123.tmp"), "a publish in progress");
        Files.writeString(mirror.resolve("audit.log"), "{not json\n", StandardOpenOption.APPEND);

        VerifyReport r = MirrorVerifier.verify(mirror);
        assertEquals(1, r.count(Finding.Kind.MISSING), r.findings().toString());
        assertEquals(1, r.count(Finding.Kind.UNLOGGED), r.findings().toString());
        assertEquals(1, r.count(Finding.Kind.NOT_REGULAR), r.findings().toString());
        assertEquals(1, r.count(Finding.Kind.BAD_AUDIT_LOG), r.findings().toString());
        assertTrue(r.findings().stream().anyMatch(f -> f.kind() == Finding.Kind.MISSING && f.path().equals(B)
                && f.detail().contains("audit.log:2")), r.findings().toString());
        assertTrue(r.findings().stream().anyMatch(f -> f.kind() == Finding.Kind.BAD_AUDIT_LOG
                && f.detail().startsWith("line 3 cannot be read")), r.findings().toString());
        assertTrue(r.count(Finding.Kind.STALE_INDEX) >= 1, "the index still lists the removed file");
        assertEquals(0, r.count(Finding.Kind.TAMPERED));
    }

    /** A link is flagged wherever it is: an index page, the audit log, a link to a published file, a directory. */
    @Test
    void symbolicLinksAnywhereInTheMirrorAreReported() throws Exception {
        Path page = mirror.resolve("simple/alpha/index.html");
        Path copy = Files.copy(page, tmp.resolve("alpha-index.html"));
        Files.delete(page);
        Files.createSymbolicLink(page, copy); // same bytes: only the link itself is wrong
        Files.move(mirror.resolve("audit.log"), tmp.resolve("audit.log"));
        Files.createSymbolicLink(mirror.resolve("audit.log"), tmp.resolve("audit.log"));
        Files.createSymbolicLink(mirror.resolve("packages/alpha/alpha-1.1-py3-none-any.whl"), mirror.resolve(A));
        Files.createSymbolicLink(mirror.resolve("simple/gamma"), mirror.resolve("simple/beta"));

        VerifyReport r = MirrorVerifier.verify(mirror);
        assertEquals(List.of("audit.log", "packages/alpha/alpha-1.1-py3-none-any.whl", "simple/alpha/index.html",
                "simple/gamma"), r.findings().stream().filter(f -> f.kind() == Finding.Kind.NOT_REGULAR)
                .map(Finding::path).toList(), r.findings().toString());
        assertTrue(r.findings().stream().anyMatch(f -> f.path().endsWith("alpha-1.1-py3-none-any.whl")
                && f.detail().startsWith("a symbolic link (to " + mirror.resolve(A) + ")")), r.findings().toString());
        assertEquals(2, r.filesChecked(), "the files themselves are still checked");
    }

    @Test
    void anEditedIndexPageIsStale() throws Exception {
        Path page = mirror.resolve("simple/alpha/index.html");
        Files.writeString(page, Files.readString(page).replaceAll("#sha256=[0-9a-f]{64}", "#sha256=" + "0".repeat(64)));
        VerifyReport r = MirrorVerifier.verify(mirror);
        assertEquals(List.of(new Finding(Finding.Kind.STALE_INDEX, "simple/alpha/index.html",
                "does not list the files as they are on disk (names, sha256, Requires-Python); "
                        + "run 'pinfleet mirror index' once the other findings are resolved")), r.findings());
    }
}

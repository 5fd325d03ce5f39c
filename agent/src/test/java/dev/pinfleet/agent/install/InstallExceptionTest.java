package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.proto.v1.FailureReason;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** The typed reason a failed install reports, and the shape of its message: artifact, entry, why. */
class InstallExceptionTest {
    @Test
    void eachKindOfFailureCarriesItsReasonAndARethrowKeepsIt() {
        assertEquals(FailureReason.REASON_INSTALL_ARCHIVE, new InstallException("a.whl: refused").reason());
        InstallException conflict = InstallException.conflict("a.whl", "needs 'x' as a directory");
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, conflict.reason());
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, InstallException.conflict("a.whl and b.whl both install 'x'")
                .reason());
        assertEquals(FailureReason.REASON_INSTALL_FAILED, InstallException.failed("no interpreter").reason());
        // an unpack's failure is thrown again on the build's thread: the reason travels with it
        InstallException again = new InstallException(conflict.getMessage(), conflict);
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, again.reason());
        assertSame(conflict, again.getCause());
        assertEquals(FailureReason.REASON_INSTALL_FAILED,
                new InstallException("x", InstallException.failed("y")).reason());
        assertEquals(FailureReason.REASON_INSTALL_ARCHIVE, new InstallException("x", new IOException("y")).reason());
        assertEquals(FailureReason.REASON_INSTALL_ARCHIVE, new InstallException("x", null).reason());
    }

    @Test
    void messagesNameTheArtifactAndTheEntryPrintably() {
        assertEquals("a.whl: not for b 1.0", InstallException.of("a.whl", "not for b 1.0").getMessage());
        assertEquals("a.whl: entry 'x\\u000ay': why", InstallException.entry("a.whl", "x\ny", "why").getMessage());
        assertEquals("a.whl: needs 'x' as a directory", InstallException.conflict("a.whl", "needs 'x' as a directory")
                .getMessage());
        ArchiveException refused = ArchiveException.of("a.whl", "not a zip file");
        InstallException from = InstallException.from(refused);
        assertEquals(refused.getMessage(), from.getMessage());
        assertSame(refused, from.getCause());
        assertEquals(FailureReason.REASON_INSTALL_ARCHIVE, from.reason());
    }
}

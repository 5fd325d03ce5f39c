package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.proto.v1.FailureReason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a release build takes the bytecode compiler's exit status and output, with a stand-in interpreter (a shell
 * script the release's {@code bin/python} points at) that answers {@code -m compileall} as told. Compiling with the
 * real interpreter is {@code ReleaseBuilderTest}'s.
 */
class BytecodeCompilerTest {
    @TempDir
    Path tmp;

    /** A release builder whose interpreter is a script doing {@code body}. */
    private InstallFixture withInterpreter(String body) throws Exception {
        Path exe = Files.createDirectories(tmp.resolve("stand-in/bin")).resolve("python3.11");
        Files.writeString(exe, "#!/bin/sh\n" + body + "\n");
        assertTrue(exe.toFile().setExecutable(true));
        return new InstallFixture(tmp.resolve("node"),
                new PythonInfo(exe, "3.11", "3.11.7", "cp", "cp311", List.of("linux_x86_64")));
    }

    private static Path build(InstallFixture fx) throws Exception {
        return fx.build("r1", fx.manifest(true, fx.wheel(TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", ""))));
    }

    @Test
    void aCompilerFailureFailsTheBuildWithItsExitStatusAndOutput() throws Exception {
        InstallFixture fx = withInterpreter("echo \"compileall: cannot write $#\" >&2; exit 3");
        InstallException e = fx.fails(fx.manifest(true, fx.wheel(TestWheels.wheel("alpha", "1.0")
                .file("alpha/__init__.py", ""))));
        assertTrue(e.getMessage().startsWith("bytecode compilation of "), e.getMessage());
        assertTrue(e.getMessage().endsWith(" failed (exit 3): compileall: cannot write 11"), e.getMessage());
        assertEquals(FailureReason.REASON_INSTALL_FAILED, e.reason());
    }

    @Test
    void exitStatusOneMeansSomeSourceDidNotCompileAndTheReleaseStands() throws Exception {
        Path release = build(withInterpreter("echo 'Sorry: IndentationError'; exit 1"));
        assertTrue(Files.exists(release.resolve(ReleaseBuilder.MARKER)));
    }

    @Test
    void aCompilerThatTalksAtLengthIsReadToTheEndAndDoesNotHang() throws Exception {
        // far more than the 64 KiB the build keeps for a message, and more than a pipe holds: the rest is drained
        Path release = build(withInterpreter("head -c 1048576 /dev/zero | tr '\\0' x; exit 0"));
        assertTrue(Files.exists(release.resolve(ReleaseBuilder.MARKER)));
    }
}

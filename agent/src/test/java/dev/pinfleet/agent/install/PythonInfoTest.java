package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PythonInfoTest {
    @TempDir
    Path tmp;

    @Test
    void probeResolvesTheRealInterpreterAndItsTags() throws Exception {
        // probed here, not through InstallFixture.python(): that one skips a test when the probe fails, this must fail
        PythonInfo py = PythonInfo.probe(Path.of("python3"));
        assertFalse(Files.isSymbolicLink(py.executable()), py.executable().toString());
        assertTrue(Files.isExecutable(py.executable()));
        String reported = InstallFixture.run(py.executable().toString(), "-c",
                "import sys; print('%d.%d.%d' % sys.version_info[:3])").strip();
        assertEquals(reported, py.fullVersion());
        assertTrue(py.fullVersion().startsWith(py.version() + "."));
        assertEquals("lib/python" + py.version() + "/site-packages", py.sitePackagesRelative());
        if (py.implementation().equals("cp")) {
            assertEquals("cp" + py.version().replace(".", ""), py.abiTag());
        }
        assertTrue(py.platformTags().get(py.platformTags().size() - 1).startsWith("linux_"), py.platformTags().toString());
        assertEquals(py, PythonInfo.probe(py.executable()), "the resolved interpreter probes the same");
    }

    @Test
    void probeOfSomethingNotRunnableSaysWhich() throws Exception {
        Path missing = tmp.resolve("nope/python3");
        IOException e = assertThrows(IOException.class, () -> PythonInfo.probe(missing));
        assertEquals("python interpreter " + missing + " cannot be run: not an executable file", e.getMessage());
        Path notExecutable = Files.writeString(tmp.resolve("python-without-x"), "#!/bin/sh\nexit 0\n");
        e = assertThrows(IOException.class, () -> PythonInfo.probe(notExecutable));
        assertTrue(e.getMessage().endsWith("cannot be run: not an executable file"), e.getMessage());
        Path notPython = interpreter("echo broken >&2\nexit 3");
        e = assertThrows(IOException.class, () -> PythonInfo.probe(notPython));
        assertTrue(e.getMessage().contains("exit 3") && e.getMessage().contains("broken"), e.getMessage());
        IOException unknown = assertThrows(IOException.class, () -> PythonInfo.probe(Path.of("no-such-python-here")));
        assertTrue(unknown.getMessage().startsWith("python interpreter no-such-python-here cannot be run: "),
                unknown.getMessage());
    }

    /** A stand-in interpreter: a script that answers the probe with {@code body}. */
    private Path interpreter(String body) throws IOException {
        Path exe = tmp.resolve("python-" + System.nanoTime());
        Files.writeString(exe, "#!/bin/sh\n" + body + "\n");
        assertTrue(exe.toFile().setExecutable(true));
        return exe;
    }

    /** The probe's answer of a CPython 3.12 on x86_64 Linux, with the given libc and platform lines. */
    private Path answering(String libc, String platform) throws IOException {
        return interpreter("cat <<'EOF'\nsome noise a site hook printed\n=no key\nexecutable=/opt/py/bin/python3.12\n"
                + "version=3.12\nfull_version=3.12.1\nimplementation=cp\nabi=cp312\n" + libc + "\n" + platform + "\nEOF");
    }

    @Test
    void theProbesAnswerBecomesTheInterpretersTags() throws Exception {
        PythonInfo py = PythonInfo.probe(answering("libc=glibc 2.28", "platform=linux-x86_64"));
        assertEquals(Path.of("/opt/py/bin/python3.12"), py.executable());
        assertEquals("3.12", py.version());
        assertEquals("3.12.1", py.fullVersion());
        assertEquals("cp", py.implementation());
        assertEquals("cp312", py.abiTag());
        assertEquals("manylinux_2_28_x86_64", py.platformTags().get(0));
        assertTrue(py.platformTags().contains("manylinux2014_x86_64"), py.platformTags().toString());
        assertFalse(py.platformTags().contains("manylinux_2_29_x86_64"), py.platformTags().toString());
        assertEquals("linux_x86_64", py.platformTags().get(py.platformTags().size() - 1));
        assertEquals("lib/python3.12/site-packages", py.sitePackagesRelative());
    }

    @Test
    void withoutGlibcOnlyThePlainLinuxTagAndOtherPlatformsAsTheyAre() throws Exception {
        assertEquals(List.of("linux_x86_64"), PythonInfo.probe(answering("libc=", "platform=linux-x86_64")).platformTags());
        assertEquals(List.of("linux_x86_64"), PythonInfo.probe(answering("libc=musl", "platform=linux-x86_64"))
                .platformTags());
        assertEquals(List.of("macosx_14_0_arm64"), PythonInfo.probe(answering("libc=", "platform=macosx-14.0-arm64"))
                .platformTags());
    }

    @Test
    void aProbeInterruptedWhileTheInterpreterRunsSaysSoAndKeepsTheInterrupt() throws Exception {
        Path started = tmp.resolve("started");
        // answers, closes its output (the probe then waits for it to exit) and keeps running: the interrupt always
        // lands while the probe waits for the process, never after it ended (the probe ends it, or 30 s do)
        Path slow = interpreter("echo version=3.11\nexec >&- 2>&-\ntouch '" + started + "'\ni=0\n"
                + "while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done");
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread probing = new Thread(() -> {
            try {
                PythonInfo.probe(slow);
            } catch (Throwable t) {
                thrown.set(t);
            }
            interruptKept.set(Thread.currentThread().isInterrupted());
        });
        probing.start();
        for (int i = 0; i < 3000 && !Files.exists(started); i++) {
            Thread.sleep(10);
        }
        assertTrue(Files.exists(started), "the stand-in interpreter did not start within 30 s");
        probing.interrupt();
        probing.join(30_000);
        assertFalse(probing.isAlive());
        assertTrue(thrown.get() instanceof IOException, String.valueOf(thrown.get()));
        assertEquals("interrupted while probing python interpreter " + slow, thrown.get().getMessage());
        assertTrue(interruptKept.get(), "the interrupt is kept for the caller");
    }

    @Test
    void anAnswerMissingAKeyIsRefusedNamingIt() throws Exception {
        IOException e = assertThrows(IOException.class, () -> PythonInfo.probe(answering("libc=", "platform=")));
        assertTrue(e.getMessage().contains("did not report 'platform'"), e.getMessage());
        e = assertThrows(IOException.class, () -> PythonInfo.probe(interpreter("echo version=3.11")));
        assertTrue(e.getMessage().contains("did not report 'executable'"), e.getMessage());
    }
}

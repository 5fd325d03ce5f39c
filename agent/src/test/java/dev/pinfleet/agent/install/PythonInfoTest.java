package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PythonInfoTest {
    @Test
    void probeResolvesTheRealInterpreterAndItsTags() throws Exception {
        PythonInfo py = InstallFixture.python();
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
    }

    @Test
    void probeOfSomethingNotRunnableSaysWhich(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("nope/python3");
        IOException e = assertThrows(IOException.class, () -> PythonInfo.probe(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        Path notPython = Files.writeString(tmp.resolve("fake"), "#!/bin/sh\necho broken >&2\nexit 3\n");
        notPython.toFile().setExecutable(true);
        e = assertThrows(IOException.class, () -> PythonInfo.probe(notPython));
        assertTrue(e.getMessage().contains("exit 3") && e.getMessage().contains("broken"), e.getMessage());
    }
}

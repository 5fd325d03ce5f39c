package dev.pinfleet.controller.freeze;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FreezeTest {
    @TempDir Path dir;
    Path mirror;

    @BeforeEach
    void mirror() throws Exception {
        mirror = dir.resolve("mirror");
        publish("six", "six-1.17.0-py2.py3-none-any.whl", "six bytes");
        publish("requests", "requests-2.34.2-py3-none-any.whl", "requests bytes");
        publish("numpy", "numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.whl", "numpy linux");
        publish("numpy", "numpy-2.4.6-cp311-cp311-win_amd64.whl", "numpy windows");
        publish("onlysdist", "onlysdist-1.0.tar.gz", "sdist");
    }

    private void publish(String project, String file, String content) throws Exception {
        Path p = mirror.resolve("packages").resolve(project).resolve(file);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    private Path reqs(String text) throws Exception {
        Path f = dir.resolve("requirements.txt");
        Files.writeString(f, text, StandardCharsets.UTF_8);
        return f;
    }

    private List<Artifact> freeze(Path reqs) {
        dev.pinfleet.wheel.Tags tags = Target.tags("3.11", "manylinux_2_36_x86_64");
        return new Freezer(MirrorCatalog.open(mirror.toString()), tags::isCompatible, tags.toString())
                .freeze(RequirementsFile.read(reqs));
    }

    @Test
    void resolvesPinsToWheelsWithSha256AndSize() throws Exception {
        List<Artifact> a = freeze(reqs("# pinned\n\nsix==1.17.0  # a comment\nRequests==2.34.2 \\\n"
                + "    --hash=sha256:" + Hashing.sha256Hex("requests bytes".getBytes()) + "\nnumpy==2.4.6\n"));
        assertEquals(3, a.size());
        assertEquals("packages/six/six-1.17.0-py2.py3-none-any.whl", a.get(0).getPath());
        assertEquals(Hashing.sha256Hex("six bytes".getBytes()), a.get(0).getSha256());
        assertEquals(9, a.get(0).getSize());
        assertEquals("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.whl", a.get(2).getFilename());
    }

    @Test
    void lineWithoutDoubleEqualsFailsWithFileAndLine() throws Exception {
        Path r = reqs("six==1.17.0\nrequests>=2.0\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().startsWith(r + ":2: 'requests>=2.0': not pinned with '=='"), e.getMessage());
        Path bare = reqs("\n\nrequests\n");
        e = assertThrows(CliException.class, () -> freeze(bare));
        assertTrue(e.getMessage().startsWith(bare + ":3: "), e.getMessage());
    }

    @Test
    void pinWithNoFileOnTheMirrorFailsWithFileAndLine() throws Exception {
        Path r = reqs("six==1.17.0\n# gone\nsix-extra==9.9\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().startsWith(r + ":3: no wheel for six-extra==9.9 on mirror"), e.getMessage());
        Path v = reqs("six==1.16.0\n");
        e = assertThrows(CliException.class, () -> freeze(v));
        assertTrue(e.getMessage().startsWith(v + ":1: no wheel for six==1.16.0"), e.getMessage());
    }

    @Test
    void sourceDistributionOnlyIsExplained() throws Exception {
        Path r = reqs("onlysdist==1.0\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().contains("source distributions are not installed"), e.getMessage());
    }

    @Test
    void hashThatDisagreesWithTheMirrorFails() throws Exception {
        Path r = reqs("six==1.17.0 --hash=sha256:" + "0".repeat(64) + "\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().startsWith(r + ":1: six==1.17.0: no file on mirror"), e.getMessage());
    }

    @Test
    void duplicatePinIsAnError() throws Exception {
        Path r = reqs("six==1.17.0\nSix==1.17.0\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().contains(":2: Six is already pinned at " + r + ":1"), e.getMessage());
    }
}

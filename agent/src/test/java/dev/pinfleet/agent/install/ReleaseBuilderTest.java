package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.wheel.testing.WheelBuilder;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReleaseBuilderTest {
    @TempDir
    Path tmp;
    InstallFixture fx;

    @BeforeEach
    void setUp() throws Exception {
        fx = new InstallFixture(tmp);
    }

    private static WheelBuilder alpha() {
        return TestWheels.wheel("alpha", "1.0")
                .file("alpha/__init__.py", "GREETING = 'hello from alpha'\n")
                .file("alpha/cli.py", "import sys\nfrom alpha import GREETING\n"
                        + "def main():\n    print(GREETING, sys.argv[1:])\n    return 0\n");
    }

    @Test
    void purelibWheelIsInstalledIntoAVirtualenvPointingAtTheFinalDir() throws Exception {
        Path release = fx.build("r1", fx.manifest(fx.wheel(alpha())));
        String cfg = Files.readString(release.resolve("pyvenv.cfg"));
        assertTrue(cfg.contains("home = " + fx.python.executable().getParent() + "\n"), cfg);
        assertTrue(cfg.contains("include-system-site-packages = false\n"), cfg);
        assertTrue(cfg.contains("version = " + fx.python.fullVersion() + "\n"), cfg);
        assertTrue(cfg.contains("command = " + fx.python.executable() + " -m venv --without-pip " + release + "\n"), cfg);
        assertEquals(fx.python.executable(), Files.readSymbolicLink(release.resolve("bin/python")));
        assertEquals(fx.python.executable(), Files.readSymbolicLink(release.resolve("bin/python" + fx.python.version())));
        assertEquals(Path.of("lib"), Files.readSymbolicLink(release.resolve("lib64")));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        assertEquals("pinfleet\n", Files.readString(site.resolve("alpha-1.0.dist-info/INSTALLER")));
        String out = InstallFixture.run(release.resolve("bin/python").toString(), "-c",
                "import sys, alpha; print(alpha.GREETING, sys.prefix, alpha.__file__)");
        assertTrue(out.startsWith("hello from alpha " + release + " " + site.resolve("alpha/__init__.py")), out);
        assertEquals(1, fx.reported.size());
        assertTrue(fx.reported.get(0).linked());
    }

    @Test
    void aCacheOnAnotherFileStoreIsCopiedFromAndEveryLaterWheelToo() throws Exception {
        Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm)
                && !Files.getFileStore(shm).equals(Files.getFileStore(tmp)), "no second file store at /dev/shm");
        Path cache = Files.createTempDirectory(shm, "pinfleet-cache");
        try {
            InstallFixture other = new InstallFixture(tmp.resolve("node"), cache.resolve("cache"));
            Path release = other.build("r1", other.manifest(other.wheel(alpha()),
                    other.wheel(TestWheels.wheel("beta", "2.0").file("beta/__init__.py", "B = 2\n"))));
            assertEquals(2, other.reported.size());
            assertTrue(other.reported.stream().noneMatch(InstallResult::linked), "hard links cannot cross file stores");
            String out = InstallFixture.run(release.resolve("bin/python").toString(), "-c",
                    "import alpha, beta; print(alpha.GREETING, beta.B)");
            assertEquals("hello from alpha 2\n", out);
        } finally {
            try (var walk = Files.walk(cache)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().setWritable(true));
            }
            try (var walk = Files.walk(cache)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    void consoleScriptEntryPointRunsFromTheFinalDir() throws Exception {
        Path release = fx.build("r1", fx.manifest(fx.wheel(alpha().consoleScript("alpha-hello", "alpha.cli:main"))));
        Path launcher = release.resolve("bin/alpha-hello");
        assertTrue(Files.isExecutable(launcher));
        String first = Files.readAllLines(launcher).get(0);
        assertEquals("#!" + release.resolve("bin/python"), first);
        String out = InstallFixture.run(launcher.toString(), "x", "y");
        assertEquals("hello from alpha ['x', 'y']\n", out);
    }

    @Test
    void dataScriptsGetTheirPythonShebangRewrittenAndOthersStayAsTheyAre() throws Exception {
        Path release = fx.build("r1", fx.manifest(fx.wheel(alpha()
                .file("alpha-1.0.data/scripts/alpha-tool", "#!python\nimport alpha\nprint('tool', alpha.GREETING)\n")
                .file("alpha-1.0.data/scripts/alpha-gui", "#!pythonw -u\nprint('gui')\n")
                .file("alpha-1.0.data/scripts/alpha-sh", "#!/bin/sh\necho shell\n"))));
        Path tool = release.resolve("bin/alpha-tool");
        assertEquals("#!" + release.resolve("bin/python") + "\nimport alpha\nprint('tool', alpha.GREETING)\n",
                Files.readString(tool));
        assertEquals("tool hello from alpha\n", InstallFixture.run(tool.toString()));
        assertEquals("#!" + release.resolve("bin/python") + "\nprint('gui')\n",
                Files.readString(release.resolve("bin/alpha-gui")));
        assertEquals("shell\n", InstallFixture.run(release.resolve("bin/alpha-sh").toString()));
    }

    @Test
    void platlibWheelWithDataHeadersAndPurelibDirectories() throws Exception {
        String plat = fx.python.platformTags().get(0);
        String tag = fx.python.abiTag() + "-" + fx.python.abiTag() + "-" + plat;
        Path release = fx.build("r1", fx.manifest(fx.wheel(TestWheels.wheel("fastthing", "2.1").tag(tag).purelib(false)
                .file("fastthing/__init__.py", "from fastthing._speed import SPEED\n")
                .file("fastthing/_speed.py", "SPEED = 'fast'\n")
                .file("fastthing-2.1.data/purelib/fastthing_pure.py", "PURE = 1\n")
                .file("fastthing-2.1.data/headers/fastthing.h", "#define FAST 1\n")
                .file("fastthing-2.1.data/data/share/fastthing/doc.txt", "doc\n"))));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        assertTrue(Files.isRegularFile(site.resolve("fastthing_pure.py")));
        assertEquals("#define FAST 1\n", Files.readString(
                release.resolve("include/site/python" + fx.python.version() + "/fastthing/fastthing.h")));
        assertEquals("doc\n", Files.readString(release.resolve("share/fastthing/doc.txt")));
        assertFalse(Files.exists(site.resolve("fastthing-2.1.data")));
        assertEquals("fast 1\n", InstallFixture.run(release.resolve("bin/python").toString(), "-c",
                "import fastthing, fastthing_pure; print(fastthing.SPEED, fastthing_pure.PURE)"));
    }

    @Test
    void executableBitsComeFromTheZipAttributes() throws Exception {
        Path release = fx.build("r1", fx.manifest(fx.wheel(alpha()
                .file("alpha/helper.sh", "#!/bin/sh\necho helper\n".getBytes(StandardCharsets.UTF_8), 0100755))));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        assertTrue(Files.isExecutable(site.resolve("alpha/helper.sh")));
        assertFalse(Files.isExecutable(site.resolve("alpha/cli.py")));
    }

    @Test
    void recordListsEveryInstalledFileWithItsRealHashAndSize() throws Exception {
        Path release = fx.build("r1", fx.manifest(fx.wheel(alpha().consoleScript("alpha-hello", "alpha.cli:main")
                .file("alpha-1.0.data/scripts/alpha-tool", "#!python\nprint(1)\n"))));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        List<String> rows = Files.readAllLines(site.resolve("alpha-1.0.dist-info/RECORD"));
        assertTrue(rows.contains("../../../bin/alpha-hello," + hashOf(release.resolve("bin/alpha-hello"))), rows.toString());
        assertTrue(rows.contains("../../../bin/alpha-tool," + hashOf(release.resolve("bin/alpha-tool"))), rows.toString());
        assertTrue(rows.contains("alpha-1.0.dist-info/RECORD,,"), rows.toString());
        for (String row : rows) {
            String[] f = row.split(",");
            if (f.length == 3) {
                assertEquals(f[1] + "," + f[2], hashOf(site.resolve(f[0]).normalize()), row);
            }
        }
        assertEquals(9, rows.size(), rows.toString());
    }

    private static String hashOf(Path p) throws Exception {
        byte[] b = Files.readAllBytes(p);
        return "sha256=" + Base64.getUrlEncoder().withoutPadding().encodeToString(Hashing.sha256().digest(b)) + ","
                + b.length;
    }

    @Test
    void secondBuildReusesTheCacheAndHardLinksTheSameInodes() throws Exception {
        Artifact a = fx.wheel(alpha());
        Path r1 = fx.build("r1", fx.manifest(a));
        Path cached = fx.cache.resolve("wheels/" + a.getSha256().substring(0, 2) + "/" + a.getSha256());
        Object indexInode = Files.getAttribute(cached.resolve("index"), "unix:ino");
        Files.delete(fx.store.get(a.getSha256()));
        Path r2 = fx.build("r2", fx.manifest(a));
        assertEquals(indexInode, Files.getAttribute(cached.resolve("index"), "unix:ino"), "cache entry unpacked again");
        String rel = fx.python.sitePackagesRelative() + "/alpha/__init__.py";
        Object ino = Files.getAttribute(cached.resolve("files/alpha/__init__.py"), "unix:ino");
        assertEquals(ino, Files.getAttribute(r1.resolve(rel), "unix:ino"));
        assertEquals(ino, Files.getAttribute(r2.resolve(rel), "unix:ino"));
        assertTrue(fx.reported.stream().allMatch(InstallResult::linked));
        Object installer1 = Files.getAttribute(r1.resolve(fx.python.sitePackagesRelative() + "/alpha-1.0.dist-info/RECORD"),
                "unix:ino");
        Object installer2 = Files.getAttribute(r2.resolve(fx.python.sitePackagesRelative() + "/alpha-1.0.dist-info/RECORD"),
                "unix:ino");
        assertFalse(installer1.equals(installer2), "RECORD must be written per release");
    }

    @Test
    void pruneCacheDeletesEntriesNotKept() throws Exception {
        Artifact a = fx.wheel(alpha());
        Artifact b = fx.wheel(TestWheels.wheel("beta", "2.0").file("beta/__init__.py", ""));
        fx.build("r1", fx.manifest(a, b));
        assertEquals(1, fx.builder.pruneCache(Set.of(a.getSha256())));
        assertTrue(Files.isDirectory(fx.cache.resolve("wheels/" + a.getSha256().substring(0, 2) + "/" + a.getSha256())));
        assertFalse(Files.exists(fx.cache.resolve("wheels/" + b.getSha256().substring(0, 2) + "/" + b.getSha256())));
        assertEquals(0, fx.builder.pruneCache(Set.of(a.getSha256())));
    }

    @Test
    void archivesAndFilesLandAtTheirInstallPath() throws Exception {
        Path tgz = TestWheels.tarGz(fx.inputs.resolve("app-7.tar.gz"), List.of(
                TarItem.dir("./"), TarItem.dir("./src/"), TarItem.file("./src/main.py", "print('app')\n"),
                new TarItem("./run.sh", '0', 0755, "#!/bin/sh\necho run\n".getBytes(StandardCharsets.UTF_8), ""),
                TarItem.symlink("./current-main.py", "src/main.py"),
                TarItem.file("./" + "d/".repeat(60) + "deep.txt", "deep\n")));
        Path zip = fx.inputs.resolve("static-3.zip");
        Files.write(zip, ZipBuilder.zip(List.of(
                new ZipBuilder.Item("css/site.css", "body{}".getBytes(StandardCharsets.UTF_8), 0100644, true))));
        Path cfg = Files.writeString(fx.inputs.resolve("settings.ini"), "[app]\nx=1\n");
        Manifest m = fx.manifest(fx.wheel(alpha()),
                fx.add(TestWheels.artifact(tgz, ArtifactKind.ARCHIVE, "app", "7", "app"), tgz),
                fx.add(TestWheels.artifact(zip, ArtifactKind.ARCHIVE, "static", "3", "app/static"), zip),
                fx.add(TestWheels.artifact(cfg, ArtifactKind.FILE, "settings", "1", "etc/settings.ini"), cfg));
        Path release = fx.build("r1", m);
        assertEquals("print('app')\n", Files.readString(release.resolve("app/src/main.py")));
        assertEquals("run\n", InstallFixture.run(release.resolve("app/run.sh").toString()));
        assertEquals(Path.of("src/main.py"), Files.readSymbolicLink(release.resolve("app/current-main.py")));
        assertEquals("deep\n", Files.readString(release.resolve("app/" + "d/".repeat(60) + "deep.txt")));
        assertEquals("body{}", Files.readString(release.resolve("app/static/css/site.css")));
        assertEquals("[app]\nx=1\n", Files.readString(release.resolve("etc/settings.ini")));
        assertEquals(4, fx.reported.size());
    }

    @Test
    void markerNamesTheManifestDigestOfACompleteRelease() throws Exception {
        Manifest m = fx.manifest(fx.wheel(alpha()));
        Path release = fx.build("r1", m);
        assertEquals(ManifestCodec.contentDigest(m), ReleaseBuilder.completedDigest(release).orElseThrow());
        assertTrue(ReleaseBuilder.completedDigest(tmp).isEmpty());
        ReleaseMarker marker = MarkerFile.read(release).orElseThrow();
        assertEquals("web", marker.getApp());
        assertEquals(1, marker.getSerial());
        assertEquals(fx.python.fullVersion(), marker.getPython());
        assertEquals(release.toString(), marker.getFinalDir());
        assertEquals(List.of("alpha-1.0-py3-none-any.whl"), marker.getArtifactsList().stream()
                .map(InstalledArtifact::getFilename).toList());
        assertEquals(m.getArtifacts(0).getSha256(), marker.getArtifacts(0).getSha256());
        assertTrue(marker.getArtifacts(0).getLinked());
        // the key names stay those of the marker format before it: an agent of that version still finds the digest
        String text = Files.readString(release.resolve(ReleaseBuilder.MARKER));
        assertTrue(text.contains("\"manifest_digest\": \"" + ManifestCodec.contentDigest(m) + "\""), text);
    }

    @Test
    void aMarkerWrittenInThePreviousFormatIsStillRead() throws Exception {
        String digest = "0123456789abcdef".repeat(4);
        Path release = Files.createDirectories(tmp.resolve("old/.pinfleet")).getParent();
        // byte for byte what the agent wrote before the marker went through protobuf's JSON mapping
        Files.writeString(release.resolve(ReleaseBuilder.MARKER), "{\n  \"manifest_digest\": \"" + digest + "\",\n"
                + "  \"app\": \"web\",\n  \"serial\": 7,\n  \"python\": \"3.11.9\",\n  \"final_dir\": \"/srv/r/old\",\n"
                + "  \"artifacts\": [\n    {\"filename\": \"alpha-1.0-py3-none-any.whl\", \"sha256\": \"" + digest
                + "\", \"install_millis\": 12, \"linked\": true}\n  ]\n}\n");
        assertEquals(digest, ReleaseBuilder.completedDigest(release).orElseThrow());
        ReleaseMarker old = MarkerFile.read(release).orElseThrow();
        assertEquals(7, old.getSerial());
        assertEquals(12, old.getArtifacts(0).getInstallMillis());
        Files.writeString(release.resolve(ReleaseBuilder.MARKER), "{\"manifest_digest\": \"not hex\"}");
        assertTrue(ReleaseBuilder.completedDigest(release).isEmpty());
        Files.writeString(release.resolve(ReleaseBuilder.MARKER), "{\"manifest_digest\": ");
        assertTrue(ReleaseBuilder.completedDigest(release).isEmpty());
    }

    @Test
    void bytecodeIsCompiledWithPathsNamingTheFinalDir() throws Exception {
        Path release = fx.build("r1", fx.manifest(true, fx.wheel(alpha())));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        String tag = "cpython-" + fx.python.version().replace(".", "");
        Path pyc = site.resolve("alpha/__pycache__/cli." + tag + ".pyc");
        assertTrue(Files.isRegularFile(pyc), "missing " + pyc);
        String filename = InstallFixture.run(release.resolve("bin/python").toString(), "-c",
                "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)", pyc.toString());
        assertEquals(site.resolve("alpha/cli.py") + "\n", filename);
    }

    @Test
    void bytecodeIsNotCompiledByDefault() throws Exception {
        Path release = fx.build("r1", fx.manifest(fx.wheel(alpha())));
        assertFalse(Files.exists(release.resolve(fx.python.sitePackagesRelative() + "/alpha/__pycache__")));
    }

    @Test
    void aWheelMayNotWriteTheVirtualenvsDirectoriesOrFilesAsItsOwn() throws Exception {
        InstallException asFile = fx.fails(fx.manifest(
                fx.wheel(TestWheels.wheel("binfile", "1.0").file("binfile-1.0.data/data/bin", "x\n"))));
        assertTrue(asFile.getMessage().contains("writes 'bin' as a file, but the virtualenv needs it as a directory"),
                asFile.getMessage());
        InstallException underInterpreter = fx.fails(fx.manifest(
                fx.wheel(TestWheels.wheel("under", "1.0").file("under-1.0.data/scripts/python/evil", "x\n"))));
        assertTrue(underInterpreter.getMessage().contains("needs 'bin/python' as a directory, but it is a file of "
                + "the virtualenv"), underInterpreter.getMessage());
        assertNoUnpackLeft();
    }

    @Test
    void unpacksPreparedForADeployThatFailedBeforeItsBuildAreDropped() throws Exception {
        Artifact a = fx.wheel(alpha());
        fx.builder.prepare(a, fx.store.get(a.getSha256()));
        fx.builder.discardPrepared();
        assertNoUnpackLeft();
        // and the wheel still installs afterwards, unpacked again from the store
        Path release = fx.build("r1", fx.manifest(a));
        assertTrue(Files.exists(release.resolve(fx.python.sitePackagesRelative() + "/alpha/__init__.py")));
    }

    /** Nothing of a failed or abandoned unpack under the cache's .tmp (it is dropped when its unpack ends). */
    private void assertNoUnpackLeft() throws Exception {
        Path tmp = fx.cache.resolve("wheels/.tmp");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            List<Path> left;
            try (var s = Files.exists(tmp) ? Files.list(tmp) : java.util.stream.Stream.<Path>empty()) {
                left = s.toList();
            }
            if (left.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("unpacks left under " + tmp + ": " + left);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void wheelsOfOneNamespaceShareItsDirectoryAndSeparateWheelsLinkEverything() throws Exception {
        Manifest m = fx.manifest(
                fx.wheel(TestWheels.wheel("zope-a", "1.0").file("zope/a/__init__.py", "A = 1\n")),
                fx.wheel(TestWheels.wheel("solo", "1.0").file("solo/__init__.py", "S = 1\n").file("solo.pth", "")),
                fx.wheel(TestWheels.wheel("zope-b", "1.0").file("zope/b/__init__.py", "B = 1\n")));
        Path site = fx.build("r1", m).resolve(fx.python.sitePackagesRelative());
        assertEquals("A = 1\n", Files.readString(site.resolve("zope/a/__init__.py")));
        assertEquals("B = 1\n", Files.readString(site.resolve("zope/b/__init__.py")));
        assertEquals("S = 1\n", Files.readString(site.resolve("solo/__init__.py")));
        assertTrue(Files.exists(site.resolve("solo.pth")));
        // the second build takes the shapes from memory: the same release again
        Path again = fx.build("r2", m).resolve(fx.python.sitePackagesRelative());
        assertEquals("B = 1\n", Files.readString(again.resolve("zope/b/__init__.py")));
    }
}

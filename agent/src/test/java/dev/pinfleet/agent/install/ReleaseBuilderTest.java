package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.LogCapture;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.wheel.testing.WheelBuilder;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
        // bin/activate from the interpreter's own template, naming the final directory as python -m venv would
        String activate = Files.readString(release.resolve("bin/activate"));
        assertTrue(activate.contains(release.toString()) && activate.contains("(r1) ") && !activate.contains("__VENV_"),
                activate);
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
                .file("alpha-1.0.data/scripts/alpha-sh", "#!/bin/sh\necho shell\n")
                .file("alpha-1.0.data/scripts/alpha-bare", "#!python"))));
        Path tool = release.resolve("bin/alpha-tool");
        assertEquals("#!" + release.resolve("bin/python") + "\nimport alpha\nprint('tool', alpha.GREETING)\n",
                Files.readString(tool));
        assertEquals("tool hello from alpha\n", InstallFixture.run(tool.toString()));
        assertEquals("#!" + release.resolve("bin/python") + "\nprint('gui')\n",
                Files.readString(release.resolve("bin/alpha-gui")));
        assertEquals("shell\n", InstallFixture.run(release.resolve("bin/alpha-sh").toString()));
        assertEquals("#!" + release.resolve("bin/python") + "\n", Files.readString(release.resolve("bin/alpha-bare")),
                "a script that is only its first line, without a newline");
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
        // a third build finds the plan of the entry in place as the second left it
        Path r3 = fx.build("r3", fx.manifest(a));
        assertEquals(ino, Files.getAttribute(r3.resolve(rel), "unix:ino"));
    }

    @Test
    void pruneCacheDeletesEntriesNotKept() throws Exception {
        Artifact a = fx.wheel(alpha());
        Artifact b = fx.wheel(TestWheels.wheel("beta", "2.0").file("beta/__init__.py", "B = 22\n"));
        assertEquals(0, fx.builder.cacheBytes());
        fx.build("r1", fx.manifest(a, b));
        long alphaBytes = unpackedBytes(a);
        assertEquals(alphaBytes + unpackedBytes(b), fx.builder.cacheBytes(), "what the cache entries' files hold");
        assertEquals(1, fx.builder.pruneCache(Set.of(a.getSha256())));
        assertEquals(alphaBytes, fx.builder.cacheBytes());
        // a prune holds builds off only while it runs: a build on another thread goes ahead afterwards
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread later = new Thread(() -> {
            try {
                fx.builder.build(fx.releases.resolve(".r2.staging"), fx.releases.resolve("r2"), fx.manifest(a), fx.store::get,
                        r -> { });
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        later.start();
        later.join(30_000);
        assertFalse(later.isAlive(), "a build after a prune still waits for it");
        assertEquals(null, failed.get());
        assertTrue(Files.isDirectory(fx.cache.resolve("wheels/" + a.getSha256().substring(0, 2) + "/" + a.getSha256())));
        assertFalse(Files.exists(fx.cache.resolve("wheels/" + b.getSha256().substring(0, 2) + "/" + b.getSha256())));
        assertEquals(0, fx.builder.pruneCache(Set.of(a.getSha256())));
    }

    /** Bytes of the files of a wheel's cache entry, as found on disk. */
    private long unpackedBytes(Artifact a) throws Exception {
        Path files = fx.cache.resolve("wheels/" + a.getSha256().substring(0, 2) + "/" + a.getSha256() + "/files");
        try (var walk = Files.walk(files)) {
            return walk.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    @Test
    void aBuilderNeedsAThreadAndOneIsEnough() throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ReleaseBuilder(fx.cache, fx.python, 0));
        assertEquals("parallelism must be at least 1, got 0", e.getMessage());
        ReleaseBuilder one = new ReleaseBuilder(fx.cache, fx.python, 1);
        Path staging = fx.releases.resolve(".r1.staging");
        one.build(staging, fx.releases.resolve("r1"), fx.manifest(fx.wheel(alpha())), fx.store::get, r -> { });
        assertTrue(Files.isRegularFile(staging.resolve(fx.python.sitePackagesRelative() + "/alpha/cli.py")));
    }

    @Test
    void aStagingDirectoryThatExistsIsNeitherUsedNorRemoved() throws Exception {
        Path staging = Files.createDirectories(fx.releases.resolve(".r1.staging"));
        Files.writeString(staging.resolve("someone-elses.txt"), "x");
        IOException e = assertThrows(IOException.class,
                () -> fx.builder.build(staging, fx.releases.resolve("r1"), fx.manifest(fx.wheel(alpha())), fx.store::get,
                        r -> { }));
        assertEquals("staging directory " + staging + " already exists", e.getMessage());
        assertTrue(Files.exists(staging.resolve("someone-elses.txt")));
    }

    @Test
    void anArtifactMissingFromTheStoreOrOfAnotherSizeIsRefusedNamingIt() throws Exception {
        Artifact a = fx.wheel(alpha());
        Path file = fx.store.remove(a.getSha256());
        String m = fx.fails(fx.manifest(a)).getMessage();
        assertEquals("alpha-1.0-py3-none-any.whl: sha256 " + a.getSha256() + " is not in the store", m);
        Path elsewhere = fx.inputs.resolve("not-a-file");
        fx.store.put(a.getSha256(), Files.createDirectories(elsewhere));
        m = fx.fails(fx.manifest(a)).getMessage();
        assertEquals("alpha-1.0-py3-none-any.whl: sha256 " + a.getSha256() + " is not in the store (" + elsewhere + ")", m);
        Path cut = fx.inputs.resolve("cut.whl");
        Files.write(cut, java.util.Arrays.copyOf(Files.readAllBytes(file), (int) a.getSize() - 1));
        fx.store.put(a.getSha256(), cut);
        m = fx.fails(fx.manifest(a)).getMessage();
        assertEquals("alpha-1.0-py3-none-any.whl: store file " + cut + " has " + (a.getSize() - 1)
                + " bytes, the manifest says " + a.getSize(), m);
        Path cfg = Files.writeString(fx.inputs.resolve("settings.ini"), "[app]\n");
        Artifact missingFile = TestWheels.artifact(cfg, ArtifactKind.FILE, "settings", "1", "etc/settings.ini");
        assertTrue(fx.fails(fx.manifest(missingFile)).getMessage().startsWith("settings.ini: sha256 "));
    }

    @Test
    void onlyWheelsAreUnpackedAheadOfTheBuild() throws Exception {
        Path cfg = Files.writeString(fx.inputs.resolve("settings.ini"), "[app]\n");
        fx.builder.prepare(TestWheels.artifact(cfg, ArtifactKind.FILE, "settings", "1", "etc/settings.ini"), cfg);
        Path tgz = TestWheels.tarGz(fx.inputs.resolve("app-1.tar.gz"), List.of(TarItem.file("a.txt", "a")));
        fx.builder.prepare(TestWheels.artifact(tgz, ArtifactKind.ARCHIVE, "app", "1", "app"), tgz);
        Artifact a = fx.wheel(alpha());
        fx.builder.prepare(a.toBuilder().setFilename("alpha-1.0-py3-none-any.zip").build(), fx.store.get(a.getSha256()));
        assertEquals(0, fx.builder.cacheUnpacks(), "nothing but a .whl wheel is unpacked early");
        assertEquals(List.of(), InstallFixture.unpackDirs(fx.cache));
        fx.builder.prepare(a, fx.store.get(a.getSha256()));
        assertEquals(-1, fx.builder.cacheUnpacks(), "a wheel is");
        fx.build("r1", fx.manifest(a)); // takes the prepared unpack: nothing runs on after the test
        assertEquals(1, fx.builder.cacheUnpacks());
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
    void aSourceFileThatDoesNotCompileLeavesTheReleaseBuiltAsPipWould() throws Exception {
        Path release = fx.build("r1", fx.manifest(true, fx.wheel(alpha().file("alpha/py2_only.py", "print 'old'\n"))));
        Path site = release.resolve(fx.python.sitePackagesRelative());
        String tag = "cpython-" + fx.python.version().replace(".", "");
        assertTrue(Files.isRegularFile(site.resolve("alpha/__pycache__/cli." + tag + ".pyc")));
        assertFalse(Files.exists(site.resolve("alpha/__pycache__/py2_only." + tag + ".pyc")));
        assertTrue(Files.isRegularFile(site.resolve("alpha/py2_only.py")));
    }

    @Test
    void eachWheelsReportedTimeIsPartOfTheBuildsOwnTime() throws Exception {
        Artifact a = fx.wheel(alpha());
        Artifact b = fx.wheel(TestWheels.wheel("beta", "2.0").file("beta/__init__.py", "B = 2\n"));
        Path tgz = TestWheels.tarGz(fx.inputs.resolve("app-1.tar.gz"), List.of(TarItem.file("main.py", "print(1)\n")));
        Artifact app = fx.add(TestWheels.artifact(tgz, ArtifactKind.ARCHIVE, "app", "1", "app"), tgz);
        for (String id : List.of("r1", "r2")) { // unpacked by the first build, taken from the cache by the second
            fx.reported.clear();
            long t0 = System.nanoTime();
            fx.build(id, fx.manifest(a, app, b));
            long elapsedMillis = (System.nanoTime() - t0) / 1_000_000 + 1;
            assertEquals(3, fx.reported.size());
            assertEquals(List.of(a.getFilename(), "app-1.tar.gz", b.getFilename()),
                    fx.built.artifacts().stream().map(InstallResult::filename).toList(), "in manifest order");
            assertEquals(Set.copyOf(fx.reported), Set.copyOf(fx.built.artifacts()));
            for (InstallResult r : fx.reported) {
                // unpack + link + per-release files of one wheel: within the build the caller saw, never beyond it
                assertTrue(r.installMillis() >= 0 && r.installMillis() <= elapsedMillis,
                        r + " in a build of " + elapsedMillis + " ms");
            }
        }
    }

    @Test
    void theBuildsLogLineTellsWhatItUnpackedLinkedAndMadeAndWhereItsTimeWent() throws Exception {
        Artifact a = fx.wheel(alpha());
        Artifact b = fx.wheel(TestWheels.wheel("beta", "2.0").file("beta/__init__.py", "B = 2\n"));
        try (LogCapture log = LogCapture.of(ReleaseBuilder.class.getName())) {
            fx.build("r1", fx.manifest(a, b));
            fx.build("r2", fx.manifest(a, b));
            // alpha: __init__, cli, METADATA, WHEEL; beta: __init__, METADATA, WHEEL (RECORD and INSTALLER are written)
            assertBuildLine(log, "r1", "2 wheels (2 unpacked now, 0 MB), 7 files linked, 4 directories");
            assertBuildLine(log, "r2", "2 wheels (0 unpacked now, 0 MB), 7 files linked, 4 directories");
        }
    }

    /** The operator's (and the bench's) line about one build: its counts, and per step milliseconds within the total. */
    private static void assertBuildLine(LogCapture log, String id, String counts) {
        String line = log.messages().stream().filter(m -> m.startsWith("built release " + id + ": ")).findFirst()
                .orElseThrow(() -> new AssertionError("no build line for " + id + ": " + log.messages()));
        Matcher m = Pattern.compile("built release " + id + ": (.*); ms: (.*), total (\\d+)")
                .matcher(line);
        assertTrue(m.matches(), line);
        assertEquals(counts, m.group(1), line);
        long total = Long.parseLong(m.group(3));
        long sum = 0;
        List<String> labels = new ArrayList<>();
        for (String step : m.group(2).split(", ")) {
            int space = step.lastIndexOf(' ');
            labels.add(step.substring(0, space));
            long ms = Long.parseLong(step.substring(space + 1));
            assertTrue(ms >= 0, line);
            sum += ms;
        }
        assertEquals(List.of("venv", "waiting for unpacks", "plan", "mkdir", "link", "scripts+RECORD",
                "archives+bytecode+marker", "sync"), labels, line);
        assertTrue(sum <= total, "the steps take no more than the whole build: " + line);
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
        assertEquals(1, fx.builder.cacheUnpacks(), "the dropped unpack is not pending any more");
        assertNoUnpackLeft();
        // and the wheel still installs afterwards, unpacked again from the store
        Path release = fx.build("r1", fx.manifest(a));
        assertTrue(Files.exists(release.resolve(fx.python.sitePackagesRelative() + "/alpha/__init__.py")));
    }

    @Test
    void aBuildInterruptedWhileItWaitsForAnUnpackStopsAndLeavesNothing() throws Exception {
        Artifact a = fx.wheel(alpha());
        CountDownLatch reading = new CountDownLatch(1);
        CountDownLatch gate = new CountDownLatch(1);
        Function<String, Path> slowStore = sha -> {
            reading.countDown(); // the unpack, on the builder's pool, reads the store: the build now waits for it
            try {
                gate.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return fx.store.get(sha);
        };
        Path staging = fx.releases.resolve(".r1.staging");
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread building = new Thread(() -> {
            try {
                fx.builder.build(staging, fx.releases.resolve("r1"), fx.manifest(a), slowStore, r -> { });
            } catch (Throwable t) {
                thrown.set(t);
            }
            interruptKept.set(Thread.currentThread().isInterrupted());
        });
        try {
            building.start();
            assertTrue(reading.await(30, TimeUnit.SECONDS));
            // interrupted once it waits for the unpack (earlier, its file writes would end with ClosedByInterrupt)
            for (int i = 0; i < 3000 && building.getState() != Thread.State.WAITING; i++) {
                Thread.sleep(10);
            }
            assertEquals(Thread.State.WAITING, building.getState());
            building.interrupt(); // the agent is stopping
            building.join(30_000);
            assertFalse(building.isAlive(), "the build still waits for the unpack");
        } finally {
            gate.countDown();
        }
        assertTrue(thrown.get() instanceof IOException, String.valueOf(thrown.get()));
        assertEquals("interrupted while unpacking alpha-1.0-py3-none-any.whl", thrown.get().getMessage());
        assertTrue(interruptKept.get(), "the interrupt is kept for whoever stops the agent");
        assertFalse(Files.exists(staging));
        assertNoUnpackLeft(); // the abandoned unpack is removed when it ends
    }

    /** Nothing of a failed or abandoned unpack under the cache's .tmp (it is dropped when its unpack ends). */
    private void assertNoUnpackLeft() throws Exception {
        Path tmp = fx.cache.resolve("wheels/.tmp");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            List<Path> left = InstallFixture.unpackDirs(fx.cache);
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

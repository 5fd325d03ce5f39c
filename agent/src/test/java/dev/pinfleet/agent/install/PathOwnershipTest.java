package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.SharedPath;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every path of a release has exactly one owner; byte-identical files are the one exception, and are reported. */
class PathOwnershipTest {
    @TempDir
    Path tmp;
    InstallFixture fx;
    String site;

    @BeforeEach
    void setUp() throws Exception {
        fx = new InstallFixture(tmp);
        site = fx.python.sitePackagesRelative();
    }

    @Test
    void aWheelShippingAnotherProjectsTopLevelPackageIsRefusedNamingBothAndThePath() throws Exception {
        // RealPipTest does the same with the machine's real pip wheel; packing it costs seconds, which a mutation run
        // would pay once per mutant
        Artifact toolkit = fx.wheel(TestWheels.wheel("toolkit", "24.0").file("toolkit/__init__.py", "__version__ = '24.0'\n")
                .file("toolkit/cli.py", "def main():\n    return 0\n").consoleScript("toolkit", "toolkit.cli:main"));
        Artifact overlay = fx.wheel(TestWheels.wheel("overlay", "1.0")
                .file("overlay/__init__.py", "").file("toolkit/__init__.py", "print('overlaid')\n"));
        InstallException e = fx.fails(fx.manifest(overlay, toolkit));
        assertEquals("overlay-1.0-py3-none-any.whl and " + toolkit.getFilename() + " both install '" + site
                + "/toolkit/__init__.py' (different content); every path of a release comes from one artifact only",
                e.getMessage());
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, e.reason());
        // the other order names them the other way round: no order lets one silently replace the other
        e = fx.fails(fx.manifest(toolkit, overlay));
        assertTrue(e.getMessage().startsWith(toolkit.getFilename() + " and overlay-1.0-py3-none-any.whl both install '"
                + site + "/toolkit/__init__.py'"), e.getMessage());
        assertNothingBuilt();
    }

    @Test
    void aModuleFileTwoWheelsShipDifferentlyIsRefusedAndSoIsTheSameBytesWithAnotherMode() throws Exception {
        Artifact six = fx.wheel(TestWheels.wheel("six", "1.17.0").file("six.py", "VERSION = '1.17.0'\n"));
        Artifact overlay = fx.wheel(TestWheels.wheel("overlay", "1.0").file("six.py", "print('overlaid')\n"));
        assertTrue(fx.fails(fx.manifest(six, overlay)).getMessage().startsWith("six-1.17.0-py3-none-any.whl and "
                + "overlay-1.0-py3-none-any.whl both install '" + site + "/six.py' (different content)"));
        Artifact modeOnly = fx.wheel(TestWheels.wheel("exec-six", "1.0")
                .file("six.py", "VERSION = '1.17.0'\n".getBytes(java.nio.charset.StandardCharsets.UTF_8), 0100755));
        assertTrue(fx.fails(fx.manifest(six, modeOnly)).getMessage().contains("both install '" + site
                + "/six.py' (the same bytes with another mode)"));
        assertNothingBuilt();
    }

    @Test
    void byteIdenticalFilesAreInstalledOnceAndReported() throws Exception {
        String declare = "__import__('pkg_resources').declare_namespace(__name__)\n";
        Artifact one = fx.wheel(TestWheels.wheel("ns-one", "1.0").file("ns/__init__.py", declare).file("ns/one.py", "X = 1\n"));
        Artifact two = fx.wheel(TestWheels.wheel("ns-two", "1.0").file("ns/__init__.py", declare).file("ns/two.py", "Y = 2\n"));
        Path release = fx.build("r1", fx.manifest(one, two));
        assertEquals(List.of(SharedPath.newBuilder().setPath(site + "/ns/__init__.py")
                .addArtifacts(one.getFilename()).addArtifacts(two.getFilename()).build()), fx.built.sharedPaths());
        Path init = release.resolve(site + "/ns/__init__.py");
        Path cachedOne = fx.cache.resolve("wheels/" + one.getSha256().substring(0, 2) + "/" + one.getSha256()
                + "/files/ns/__init__.py");
        assertEquals(Files.getAttribute(cachedOne, "unix:ino"), Files.getAttribute(init, "unix:ino"),
                "the first artifact's copy is the one installed");
        for (String dist : List.of("ns_one-1.0", "ns_two-1.0")) {
            assertTrue(Files.readString(release.resolve(site + "/" + dist + ".dist-info/RECORD"))
                    .contains("ns/__init__.py,sha256="), dist + " still lists the file it shares");
        }
        assertEquals(List.of(SharedPath.newBuilder().setPath(site + "/ns/__init__.py").addArtifacts(one.getFilename())
                .addArtifacts(two.getFilename()).build()), MarkerFile.read(release).orElseThrow().getSharedPathsList());
    }

    @Test
    void aFileWhereAnotherArtifactNeedsADirectoryIsRefusedInEitherOrder() throws Exception {
        Artifact file = fx.wheel(TestWheels.wheel("flat", "1.0").file("shared", "not a directory\n"));
        Artifact tree = fx.wheel(TestWheels.wheel("deep", "1.0").file("shared/mod.py", ""));
        String why = "deep-1.0-py3-none-any.whl: needs '" + site + "/shared' as a directory, but it is a file of "
                + "flat-1.0-py3-none-any.whl";
        InstallException e = fx.fails(fx.manifest(file, tree));
        assertEquals(why, e.getMessage());
        assertEquals(FailureReason.REASON_INSTALL_CONFLICT, e.reason());
        assertEquals(why, fx.fails(fx.manifest(tree, file)).getMessage());
        assertNothingBuilt();
    }

    @Test
    void aWheelAndAnArchiveWritingOnePathAreRefusedUnlessTheBytesAreTheSame() throws Exception {
        Artifact wheel = fx.wheel(TestWheels.wheel("appconf", "1.0").file("appconf/__init__.py", "")
                .file("appconf-1.0.data/data/app/settings.py", "DEBUG = False\n"));
        Path differs = TestWheels.tarGz(fx.inputs.resolve("app-1.tar.gz"), List.of(
                TarItem.file("settings.py", "DEBUG = True\n"), TarItem.file("main.py", "print('app')\n")));
        Artifact archive = fx.add(TestWheels.artifact(differs, ArtifactKind.ARCHIVE, "app", "1", "app"), differs);
        assertEquals("appconf-1.0-py3-none-any.whl and app-1.tar.gz both install 'app/settings.py' (different content);"
                + " every path of a release comes from one artifact only", fx.fails(fx.manifest(wheel, archive)).getMessage());

        Path same = TestWheels.tarGz(fx.inputs.resolve("app-2.tar.gz"), List.of(
                TarItem.file("settings.py", "DEBUG = False\n"), TarItem.file("main.py", "print('app')\n")));
        Artifact sameArchive = fx.add(TestWheels.artifact(same, ArtifactKind.ARCHIVE, "app", "2", "app"), same);
        Path release = fx.build("r1", fx.manifest(sameArchive, wheel));
        assertEquals("DEBUG = False\n", Files.readString(release.resolve("app/settings.py")));
        assertEquals("print('app')\n", Files.readString(release.resolve("app/main.py")));
        assertEquals(List.of(SharedPath.newBuilder().setPath("app/settings.py").addArtifacts("app-2.tar.gz")
                .addArtifacts(wheel.getFilename()).build()), fx.built.sharedPaths());
    }

    @Test
    void aFileArtifactCollidingWithAWheelFileOrDirectoryIsRefused() throws Exception {
        Artifact wheel = etcWheel("[wheel]\n");
        Path ini = Files.writeString(fx.inputs.resolve("app.ini"), "[file]\n");
        Artifact file = etcFile(ini, "etc/app.ini");
        assertTrue(fx.fails(fx.manifest(wheel, file)).getMessage().startsWith("etcconf-1.0-py3-none-any.whl and "
                + "app.ini both install 'etc/app.ini' (different content)"));
        Artifact asDir = etcFile(ini, "etc/app.ini/inner");
        assertEquals("app.ini: needs 'etc/app.ini' as a directory, but it is a file of etcconf-1.0-py3-none-any.whl",
                fx.fails(fx.manifest(wheel, asDir)).getMessage());
        assertNothingBuilt();
    }

    @Test
    void archivesNestedInOneAnotherShareDirectoriesNotFiles() throws Exception {
        Path outer = TestWheels.tarGz(fx.inputs.resolve("site-1.tar.gz"), List.of(
                TarItem.file("index.html", "<p>1</p>"), TarItem.file("static/site.css", "body{}")));
        Path inner = TestWheels.tarGz(fx.inputs.resolve("assets-1.tar.gz"), List.of(TarItem.file("logo.svg", "<svg/>")));
        Artifact a = fx.add(TestWheels.artifact(outer, ArtifactKind.ARCHIVE, "site", "1", "www"), outer);
        Artifact b = fx.add(TestWheels.artifact(inner, ArtifactKind.ARCHIVE, "assets", "1", "www/static"), inner);
        Path release = fx.build("r1", fx.manifest(a, b));
        assertEquals("body{}", Files.readString(release.resolve("www/static/site.css")));
        assertEquals("<svg/>", Files.readString(release.resolve("www/static/logo.svg")));
        assertEquals(List.of(), fx.built.sharedPaths());

        Path clash = TestWheels.tarGz(fx.inputs.resolve("assets-2.tar.gz"), List.of(TarItem.file("site.css", "p{}")));
        Artifact c = fx.add(TestWheels.artifact(clash, ArtifactKind.ARCHIVE, "assets", "2", "www/static"), clash);
        assertTrue(fx.fails(fx.manifest(a, c)).getMessage().startsWith("site-1.tar.gz and assets-2.tar.gz both install "
                + "'www/static/site.css' (different content)"));
    }

    @Test
    void identicalScriptsAndLaunchersOfTwoWheelsAreWrittenOnceAndListedByBoth() throws Exception {
        String tool = "#!python\nprint('tool')\n";
        Artifact one = fx.wheel(TestWheels.wheel("tools-one", "1.0").file("tools_one/__init__.py", "")
                .file("tools_one-1.0.data/scripts/shared-tool", tool).consoleScript("common", "common.cli:main"));
        Artifact two = fx.wheel(TestWheels.wheel("tools-two", "1.0").file("tools_two/__init__.py", "")
                .file("tools_two-1.0.data/scripts/shared-tool", tool).consoleScript("common", "common.cli:main"));
        Path release = fx.build("r1", fx.manifest(one, two));
        assertEquals(List.of("bin/common", "bin/shared-tool"), fx.built.sharedPaths().stream().map(SharedPath::getPath)
                .toList());
        assertEquals("#!" + release.resolve("bin/python") + "\nprint('tool')\n",
                Files.readString(release.resolve("bin/shared-tool")));
        assertTrue(Files.readString(release.resolve("bin/common")).contains("from common.cli import main"));
        for (String dist : List.of("tools_one-1.0", "tools_two-1.0")) {
            String record = Files.readString(release.resolve(site + "/" + dist + ".dist-info/RECORD"));
            assertTrue(record.contains("../../../bin/common,sha256=") && record.contains("../../../bin/shared-tool,sha256="),
                    dist + ": " + record);
        }
        // the same launcher name for another target is two artifacts writing one path differently
        Artifact other = fx.wheel(TestWheels.wheel("tools-three", "1.0").file("tools_three/__init__.py", "")
                .consoleScript("common", "tools_three:main"));
        assertTrue(fx.fails(fx.manifest(one, other)).getMessage().startsWith(one.getFilename() + " and "
                + other.getFilename() + " both install 'bin/common'"));
    }

    @Test
    void aFileArtifactShippingAWheelsFileByteForByteIsInstalledOnceAndReported() throws Exception {
        Artifact wheel = etcWheel("[same]\n");
        Path ini = Files.writeString(fx.inputs.resolve("app.ini"), "[same]\n");
        Artifact file = etcFile(ini, "etc/app.ini");
        Path release = fx.build("r1", fx.manifest(wheel, file));
        assertEquals(List.of(SharedPath.newBuilder().setPath("etc/app.ini").addArtifacts(wheel.getFilename())
                .addArtifacts("app.ini").build()), fx.built.sharedPaths());
        Path cached = fx.cache.resolve("wheels/" + wheel.getSha256().substring(0, 2) + "/" + wheel.getSha256()
                + "/files/etcconf-1.0.data/data/etc/app.ini");
        assertEquals(Files.getAttribute(cached, "unix:ino"), Files.getAttribute(release.resolve("etc/app.ini"), "unix:ino"),
                "the wheel, first in the manifest, wrote it");
    }

    /** A wheel shipping {@code etc/app.ini} (through its .data/data) with {@code content}. */
    private Artifact etcWheel(String content) throws Exception {
        return fx.wheel(TestWheels.wheel("etcconf", "1.0").file("etcconf/__init__.py", "")
                .file("etcconf-1.0.data/data/etc/app.ini", content));
    }

    /** A FILE artifact of {@code ini} at {@code installPath}, in the store. */
    private Artifact etcFile(Path ini, String installPath) throws Exception {
        return fx.add(TestWheels.artifact(ini, ArtifactKind.FILE, "appini", "1", installPath), ini);
    }

    /** No release directory came out of the refused builds (the fixture also checks their staging is gone). */
    private void assertNothingBuilt() throws Exception {
        try (var s = Files.list(fx.releases)) {
            assertEquals(List.of(), s.toList());
        }
    }
}

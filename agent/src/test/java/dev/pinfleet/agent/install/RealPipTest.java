package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real pip, run from the built release, must see exactly the manifest and find nothing broken; and the real pip
 * wheel cannot be overlaid by another wheel. Left out of the mutation run: packing and running pip costs seconds, once
 * per mutant; {@code PathOwnershipTest} has the same ownership case with small wheels.
 */
class RealPipTest {
    @TempDir
    Path tmp;

    @Test
    void aWheelShippingPipsTopLevelPackageIsRefusedInEitherOrder() throws Exception {
        InstallFixture fx = new InstallFixture(tmp);
        String site = fx.python.sitePackagesRelative();
        Path pipWheel = TestWheels.packInstalled(fx.python.executable().toString(), "pip", fx.inputs);
        Artifact pip = fx.add(TestWheels.wheelArtifact(pipWheel), pipWheel);
        Artifact overlay = fx.wheel(TestWheels.wheel("overlay", "1.0")
                .file("overlay/__init__.py", "").file("pip/__init__.py", "print('overlaid')\n"));
        assertEquals("overlay-1.0-py3-none-any.whl and " + pip.getFilename() + " both install '" + site
                + "/pip/__init__.py' (different content); every path of a release comes from one artifact only",
                fx.fails(fx.manifest(overlay, pip)).getMessage());
        String other = fx.fails(fx.manifest(pip, overlay)).getMessage();
        assertTrue(other.startsWith(pip.getFilename() + " and overlay-1.0-py3-none-any.whl both install '" + site
                + "/pip/__init__.py'"), other);
    }

    @Test
    void pipListAndCheckSeeExactlyTheManifest() throws Exception {
        InstallFixture fx = new InstallFixture(tmp);
        Path pipWheel = TestWheels.packInstalled(fx.python.executable().toString(), "pip", fx.inputs);
        Artifact pip = fx.add(TestWheels.wheelArtifact(pipWheel), pipWheel);
        Artifact core = fx.wheel(TestWheels.wheel("Core_Lib", "2.0.1").file("core_lib/__init__.py", "VALUE = 42\n"));
        Artifact mypkg = fx.wheel(TestWheels.wheel("mypkg", "1.3").requires("core-lib>=2.0").requires("pip")
                .file("mypkg/__init__.py", "from core_lib import VALUE\n")
                .file("mypkg/cli.py", "import mypkg\ndef main():\n    print('value', mypkg.VALUE)\n")
                .consoleScript("mypkg-value", "mypkg.cli:main"));
        Manifest m = fx.manifest(mypkg, core, pip);
        Path release = fx.build("r1", m);
        String python = release.resolve("bin/python").toString();

        String list = InstallFixture.run(python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check");
        Map<String, String> listed = new TreeMap<>();
        Matcher e = Pattern.compile("\"name\":\\s*\"([^\"]+)\",\\s*\"version\":\\s*\"([^\"]+)\"").matcher(list);
        while (e.find()) {
            listed.put(Names.normalizeProject(e.group(1)), e.group(2));
        }
        Map<String, String> expected = new TreeMap<>();
        for (Artifact a : m.getArtifactsList()) {
            expected.put(Names.normalizeProject(a.getName()), a.getVersion());
        }
        assertEquals(expected, listed, list);

        String check = InstallFixture.run(python, "-m", "pip", "check", "--disable-pip-version-check");
        assertTrue(check.contains("No broken requirements found"), check);
        assertEquals("42\n", InstallFixture.run(python, "-c", "import mypkg; print(mypkg.VALUE)"));
        assertEquals("value 42\n", InstallFixture.run(release.resolve("bin/mypkg-value").toString()));
        String pipVersion = InstallFixture.run(release.resolve("bin/pip").toString(), "--version");
        assertTrue(pipVersion.contains(release.resolve(fx.python.sitePackagesRelative()).toString()), pipVersion);
    }
}

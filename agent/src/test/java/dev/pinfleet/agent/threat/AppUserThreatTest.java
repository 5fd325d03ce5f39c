package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application runs as its own user, in the group the agent's trees belong to (so that it can read its release),
 * and must not be able to change what the agent installed: not a file of the unpacked wheel cache (hard-linked into
 * every release), not a file of a release, not the bytecode, not site-packages, not `current`. A real agent process
 * with the most permissive umask a user-private-group system gives (0002) deploys; then `setpriv` runs shell commands
 * and the release's own Python as {@code nobody} with the files' group. Needs root, setpriv and /usr/bin/python3 (an
 * interpreter {@code nobody} can run; the test skips, saying why, without them).
 */
class AppUserThreatTest {
    private static final String PYTHON = "/usr/bin/python3";

    @TempDir Path dir;
    FakeMirror mirror;
    AgentProcess agent;
    final KeyPair key = Keys.generate();

    @BeforeEach
    void setUp() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run commands as nobody");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs /usr/bin/setpriv (util-linux)");
        Assumptions.assumeTrue(Files.isExecutable(Path.of(PYTHON)), "needs " + PYTHON + ", which nobody can run");
        // JUnit makes the temp directory 0700: the application's user must be able to reach the agent's root
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        mirror = FakeMirror.start();
        Path trusted = Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(trusted.resolve("release.pub"), key.getPublic());
        Map<String, String> cfg = new LinkedHashMap<>();
        cfg.put("node", "n1");
        cfg.put("root", dir.resolve("root").toString());
        cfg.put("listen", "127.0.0.1:0");
        cfg.put("plaintext", "true");
        cfg.put("trusted-keys", trusted.toString());
        cfg.put("mirrors", mirror.baseUri().toString());
        cfg.put("python", PYTHON);
        cfg.put("shutdown-seconds", "5");
        agent = AgentProcess.start(dir.resolve("proc"), cfg, List.of("/bin/sh", "-c", "umask 0002 && exec \"$0\" \"$@\""));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (agent != null) {
            agent.close();
        }
        if (mirror != null) {
            mirror.close();
        }
    }

    @Test
    void theApplicationsUserCanReadAndImportItsReleaseButChangeNothingTheAgentInstalled() throws Exception {
        Path wheel = TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "GREETING = 'hello'\n")
                .file("alpha/cli.py", "def main():\n    print('cli')\n").consoleScript("alpha-hello", "alpha.cli:main")
                .build(Files.createDirectories(dir.resolve("wheels")));
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        Artifact a = TestWheels.wheelArtifact(wheel);
        String version = TestWheels.run(List.of(PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])")).strip();
        Manifest m = TestFleet.manifest("shop", 1, List.of(a)).setPython(version).setCompileBytecode(true).build();
        DeployReport r = deploy(m);
        assertEquals(Outcome.OK, r.getOutcome(), r.getError() + "\n" + agent.log());

        Path root = dir.resolve("root");
        Path app = root.resolve("apps/shop");
        Path release = app.resolve("releases").resolve(r.getRelease());
        Path site = release.resolve("lib/python" + version + "/site-packages");
        Path cached = root.resolve("cache/wheels/" + a.getSha256().substring(0, 2) + "/" + a.getSha256()
                + "/files/alpha/__init__.py");
        String tag = "cpython-" + version.replace(".", "");
        Path pyc = site.resolve("alpha/__pycache__/__init__." + tag + ".pyc");
        assertEquals(Files.getAttribute(cached, "unix:ino"), Files.getAttribute(site.resolve("alpha/__init__.py"),
                "unix:ino"), "the release hard-links the cache");

        // what the application may do: read and import, with the bytecode the agent compiled
        assertEquals(0, asApp("cat " + site.resolve("alpha/__init__.py")).exit());
        Run imported = asApp(release.resolve("bin/python") + " -v -c 'import alpha; print(alpha.GREETING)'");
        assertEquals(0, imported.exit(), imported.output());
        assertTrue(imported.output().contains("code object from '" + pyc + "'"), "the compiled bytecode is used: "
                + imported.output());
        assertEquals(0, asApp(release.resolve("bin/alpha-hello").toString()).exit());

        // what it may not: change, replace or delete any of it, add to it, or move `current`
        Map<Path, byte[]> before = new LinkedHashMap<>();
        for (Path p : List.of(cached, site.resolve("alpha/__init__.py"), site.resolve("alpha-1.0.dist-info/RECORD"),
                release.resolve("bin/alpha-hello"), pyc, root.resolve("cache/wheels/" + a.getSha256().substring(0, 2)
                        + "/" + a.getSha256() + "/index"))) {
            before.put(p, Files.readAllBytes(p));
        }
        List<String> attempts = new ArrayList<>();
        for (Path p : before.keySet()) {
            attempts.add("echo 'print(1)' >> " + p);
            attempts.add("rm -f " + p);
            attempts.add("mv " + p + " " + p + ".moved");
        }
        attempts.add("cp /etc/hostname " + site.resolve("alpha/__init__.py"));
        attempts.add("touch " + site.resolve("sitecustomize.py"));
        attempts.add("mkdir " + site.resolve("evil"));
        attempts.add("touch " + pyc.resolveSibling("cli.evil.pyc"));
        attempts.add("touch " + cached.resolveSibling("evil.py"));
        attempts.add("ln -sfn /tmp " + app.resolve("current"));
        attempts.add("mv " + release + " " + release + ".moved");
        for (String attempt : attempts) {
            Run run = asApp(attempt);
            assertNotEquals(0, run.exit(), "the application's user could: " + attempt);
            assertTrue(run.output().contains("Permission denied") || run.output().contains("Operation not permitted"),
                    attempt + ": " + run.output());
        }
        for (Map.Entry<Path, byte[]> e : before.entrySet()) {
            assertTrue(java.util.Arrays.equals(e.getValue(), Files.readAllBytes(e.getKey())), e.getKey() + " changed");
        }
        assertEquals(r.getRelease(), Files.readSymbolicLink(app.resolve("current")).getFileName().toString());
        assertNoWriteBitsForOthers(root.resolve("cache"));
        assertNoWriteBitsForOthers(release);
    }

    /** No file or directory has a write bit for the group or others, whatever the agent's umask. */
    private static void assertNoWriteBitsForOthers(Path tree) throws IOException {
        try (Stream<Path> s = Files.walk(tree)) {
            for (Path p : s.toList()) {
                if (Files.isSymbolicLink(p)) {
                    continue;
                }
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
                assertTrue(!perms.contains(PosixFilePermission.GROUP_WRITE)
                        && !perms.contains(PosixFilePermission.OTHERS_WRITE), p + " is " + PosixFilePermissions.toString(perms));
            }
        }
    }

    private record Run(int exit, String output) {}

    /** Runs {@code script} with sh as nobody, in the group of the agent's files (root's, in this test); 60 s at most. */
    private Run asApp(String script) throws Exception {
        Path out = Files.createTempFile(dir, "app-", ".out");
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=nobody", "--regid=0", "--clear-groups",
                "/bin/sh", "-c", script).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("still running after 60 s: " + script);
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    private DeployReport deploy(Manifest m) {
        return agent.deploy(DeployRequest.newBuilder().setDeployId("app-user")
                .setManifest(Envelope.sign(ManifestCodec.toJson(m), List.of(key))).build());
    }
}

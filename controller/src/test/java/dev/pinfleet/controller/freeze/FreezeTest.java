package dev.pinfleet.controller.freeze;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.Tags;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FreezeTest {
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    /** The mirror is built once for the class (publishing fsyncs every file); tests only add wheels of their own. */
    @TempDir static Path shared;
    static MirrorFixture mirror;
    static Path six;
    static Path requests;
    static Path numpyLinux;
    static Path mylib;

    @TempDir Path dir;

    @BeforeAll
    static void mirror() throws Exception {
        mirror = new MirrorFixture(shared.resolve("mirror"), shared.resolve("work"));
        List<Path> p = mirror.publishAll(List.of(
                mirror.wheel("six", "1.17.0").tag("py2.py3-none-any"),
                mirror.wheel("requests", "2.34.2").requiresPython(">=3.8")
                        .requires("charset-normalizer<4,>=2", "idna<4,>=2.5", "urllib3<3,>=1.21.1", "certifi>=2017.4.17",
                                "PySocks!=1.5.7,>=1.5.6; extra == \"socks\"",
                                "win-inet-pton; sys_platform == \"win32\" and extra == \"socks\"",
                                "chardet<6,>=3.0.2; extra == \"use-chardet-on-py3\""),
                mirror.wheel("numpy", "2.4.6").tag("cp311-cp311-manylinux_2_27_x86_64"),
                mirror.wheel("numpy", "2.4.6").tag("cp311-cp311-win_amd64"),
                mirror.wheel("mylib", "1.4.0+g" + COMMIT.substring(0, 12)).requires("six>=1.16"),
                mirror.wheel("pysocks", "1.7.1"),
                mirror.wheel("idna", "3.7"),
                mirror.wheel("idna", "1.0"),
                mirror.wheel("charset-normalizer", "3.3.2"),
                mirror.wheel("urllib3", "2.2.1"),
                mirror.wheel("certifi", "2024.2.2"),
                mirror.wheel("mylib", "1.3.0")));
        six = p.get(0);
        requests = p.get(1);
        numpyLinux = p.get(2);
        mylib = p.get(4);
        mirror.raw("onlysdist", "onlysdist-1.0.tar.gz", "sdist");
    }

    private Path file(String name, String text) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, text, StandardCharsets.UTF_8);
        return f;
    }

    private Path reqs(String text) throws Exception {
        return file("requirements.txt", text);
    }

    private static final MarkerEnvironment ENV = MarkerEnvironment.cpythonLinux("3.11.7", "manylinux_2_36_x86_64");

    private static final InstallScheme SCHEME = InstallScheme.virtualenv("3.11");

    private List<Freezer.Pinned> pin(Path reqs) {
        Tags tags = Target.tags("3.11", "manylinux_2_36_x86_64");
        return new Freezer(MirrorCatalog.open(mirror.dir().toString()), tags::isCompatible, tags.toString(), SCHEME)
                .freeze(RequirementsFile.read(reqs, ENV).pins());
    }

    private List<Artifact> freeze(Path reqs) {
        return pin(reqs).stream().map(Freezer.Pinned::toArtifact).toList();
    }

    private List<String> checkDeps(Path reqs) {
        return DependencyCheck.check(pin(reqs), ENV);
    }

    @Test
    void resolvesPinsToWheelsWithSha256AndSize() throws Exception {
        List<Artifact> a = freeze(reqs("# pinned\n\nsix==1.17.0  # a comment\nRequests==2.34.2 \\\n"
                + "    --hash=sha256:" + Hashing.sha256Hex(requests) + "\nnumpy==2.4.6\n"));
        assertEquals(3, a.size());
        assertEquals("packages/six/" + six.getFileName(), a.get(0).getPath());
        assertEquals(Hashing.sha256Hex(six), a.get(0).getSha256());
        assertEquals(Files.size(six), a.get(0).getSize());
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
        // a project the mirror does not have at all: said so, with the close names it has (a typo, most likely)
        assertTrue(e.getMessage().startsWith(r + ":3: no project 'six-extra' on mirror ") && e.getMessage()
                .endsWith("; did you mean six?"), e.getMessage());
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
        assertTrue(e.getMessage().contains(six.getFileName() + " sha256:" + Hashing.sha256Hex(six)), e.getMessage());
    }

    @Test
    void duplicatePinIsAnError() throws Exception {
        Path r = reqs("six==1.17.0\nSix==1.17.0\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().contains(":2: Six is already pinned at " + r + ":1"), e.getMessage());
    }

    @Test
    void pipCompileStyleInputWithHashesMarkersAnIncludeAndAGitPinFreezes() throws Exception {
        file("base.txt", "six==1.17.0\n    # via mylib\npysocks==1.7.1  # via requests\n");
        Path r = reqs("""
                #
                # This file is autogenerated by pip-compile with Python 3.11
                # by the following command:
                #
                #    pip-compile --generate-hashes requirements.in
                #
                --index-url https://pypi.org/simple
                --extra-index-url https://example.com/simple

                -r base.txt
                mylib @ git+https://git.example.com/team/mylib.git@%s
                    # via -r requirements.in
                requests[socks]==2.34.2 \\
                    --hash=sha256:%s \\
                    --hash=sha256:%s
                    # via -r requirements.in
                tomli==2.0.1 ; python_version < "3.11" \\
                    --hash=sha256:%s
                numpy==2.4.6 ; platform_machine == "x86_64" and sys_platform == "linux" \\
                    --hash=sha256:%s
                pywin32==306 ; sys_platform == "win32"
                idna==3.7
                charset-normalizer==3.3.2
                urllib3==2.2.1
                certifi==2024.2.2
                """.formatted(COMMIT, "f".repeat(64), Hashing.sha256Hex(requests), "e".repeat(64),
                Hashing.sha256Hex(numpyLinux)));
        RequirementsFile.Result read = RequirementsFile.read(r, ENV);
        assertEquals(List.of(r + ":17: tomli==2.0.1 ; python_version < \"3.11\"", r + ":21: pywin32==306 ; sys_platform == \"win32\""),
                read.skipped());
        List<Freezer.Pinned> pins = pin(r);
        assertEquals(List.of("six", "pysocks", "mylib", "requests", "numpy", "idna", "charset-normalizer", "urllib3",
                "certifi"), pins.stream().map(p -> p.requirement().name()).toList());
        assertEquals(dir.resolve("base.txt") + ":1", pins.get(0).requirement().source());

        Freezer.Pinned git = pins.get(2);
        assertEquals("1.4.0+g0123456789ab", git.version());
        assertEquals(mylib.getFileName().toString(), git.file().filename());
        assertEquals(COMMIT, git.requirement().vcs().commit());
        assertEquals("1.4.0+g0123456789ab", git.toArtifact().getVersion());

        Freezer.Pinned req = pins.get(3);
        assertEquals(Set.of("socks"), req.requirement().extras());
        assertEquals("requests", req.toArtifact().getName(), "the base distribution is pinned");
        assertEquals(Hashing.sha256Hex(requests), req.file().sha256());
        assertEquals("numpy-2.4.6-cp311-cp311-manylinux_2_27_x86_64.whl", pins.get(4).file().filename());

        assertEquals(List.of(), DependencyCheck.check(pins, ENV), "every Requires-Dist is pinned");

        String pip = PipRequirements.render(pins, "http://mirror/simple/", List.of("test"));
        assertTrue(pip.contains("\nrequests[socks]==2.34.2 \\\n    --hash=sha256:" + Hashing.sha256Hex(requests) + "\n"), pip);
        assertTrue(pip.contains("\nmylib==1.4.0+g0123456789ab \\\n    --hash=sha256:" + Hashing.sha256Hex(mylib) + "\n"), pip);
        assertTrue(pip.startsWith("# test\n--index-url http://mirror/simple/\n"), pip);
    }

    @Test
    void aBranchOrTagInsteadOfACommitIsRefusedNamingFileAndLine() throws Exception {
        Path r = reqs("six==1.17.0\ngit+https://git.example.com/team/mylib.git@main#egg=mylib\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().startsWith(r + ":2: mylib: "), e.getMessage());
        assertTrue(e.getMessage().contains("'main' is a branch, tag or short id")
                && e.getMessage().contains("--exists-action=w hole, closed"), e.getMessage());

        Path none = reqs("mylib @ git+https://git.example.com/team/mylib.git\n");
        e = assertThrows(CliException.class, () -> freeze(none));
        assertTrue(e.getMessage().startsWith(none + ":1: mylib: ") && e.getMessage().contains("names no commit"),
                e.getMessage());

        Path shortId = reqs("git+ssh://git@git.example.com/team/mylib.git@0123456#egg=mylib\n");
        e = assertThrows(CliException.class, () -> freeze(shortId));
        assertTrue(e.getMessage().contains("not a 40-hex commit"), e.getMessage());
    }

    @Test
    void aCommitWithoutAWheelOnTheMirrorSaysWhatToPublish() throws Exception {
        Path r = reqs("git+ssh://git@git.example.com/team/mylib.git@" + "a".repeat(40) + "#egg=mylib\n");
        CliException e = assertThrows(CliException.class, () -> freeze(r));
        assertTrue(e.getMessage().startsWith(r + ":1: mylib @ commit " + "a".repeat(40)), e.getMessage());
        assertTrue(e.getMessage().contains("local label +gaaaaaaaaaaaa"), e.getMessage());
    }

    @Test
    void includesAreRelativeToTheIncludingFileAndCyclesAreRefused() throws Exception {
        Files.createDirectories(dir.resolve("sub"));
        file("sub/a.txt", "-r b.txt\nsix==1.17.0\n");
        file("sub/b.txt", "--requirement=a.txt\n");
        Path top = reqs("-r sub/a.txt\n");
        CliException e = assertThrows(CliException.class, () -> freeze(top));
        assertTrue(e.getMessage().startsWith(dir.resolve("sub/b.txt") + ":1: --requirement a.txt: include cycle "
                + "a.txt -> b.txt -> a.txt"), e.getMessage());

        file("sub/b.txt", "idna==3.7\n");
        file("sub/c.txt", "-r b.txt\n");
        Path diamond = reqs("-r sub/a.txt\n-r sub/c.txt\n");
        assertEquals(List.of("idna", "six"), freeze(diamond).stream().map(Artifact::getName).toList(),
                "a file reached twice is read once");

        Path missing = reqs("-r nowhere.txt\n");
        e = assertThrows(CliException.class, () -> freeze(missing));
        assertTrue(e.getMessage().startsWith(missing + ":1: -r nowhere.txt: "), e.getMessage());
    }

    @Test
    void optionsPinfleetCannotHonourAreErrorsNamingFileAndLine() throws Exception {
        for (String line : List.of("-e ./src/mylib", "-c constraints.txt", "--no-binary :all:",
                "six==1.17.0 --global-option=x", "https://example.com/six-1.17.0-py3-none-any.whl",
                "six===1.17.0", "six==1.*", "six==1.17.0 --hash=md5:abcd")) {
            Path r = reqs("idna==3.7\n" + line + "\n");
            CliException e = assertThrows(CliException.class, () -> freeze(r), line);
            assertTrue(e.getMessage().startsWith(r + ":2: "), e.getMessage());
        }
    }

    @Test
    void theWheelForTheTargetPlatformIsPicked() throws Exception {
        Tags arm = Target.tags("3.11", "manylinux_2_36_aarch64");
        Path r = reqs("numpy==2.4.6\n");
        CliException e = assertThrows(CliException.class, () -> new Freezer(MirrorCatalog.open(mirror.dir().toString()),
                arm::isCompatible, arm.toString(), SCHEME).freeze(RequirementsFile.read(r, ENV).pins()));
        assertTrue(e.getMessage().contains("do not suit"), e.getMessage());
    }

    @Test
    void checkDepsFindsAMissingDependencyWithFileAndLine() throws Exception {
        Path r = reqs("requests==2.34.2\nidna==3.7\ncharset-normalizer==3.3.2\ncertifi==2024.2.2\n");
        List<String> problems = checkDeps(r);
        assertEquals(List.of(r + ":1: requests==2.34.2 requires 'urllib3<3,>=1.21.1', but urllib3 is not pinned "
                + "(missing dependency)"), problems);
    }

    @Test
    void checkDepsFindsConflictsAndHonoursExtras() throws Exception {
        Path r = reqs("requests[socks]==2.34.2\nidna==1.0\ncharset-normalizer==3.3.2\ncertifi==2024.2.2\n"
                + "urllib3==2.2.1\n");
        List<String> problems = checkDeps(r);
        assertEquals(List.of(
                r + ":1: requests[socks]==2.34.2 requires 'idna<4,>=2.5', but idna==1.0 is pinned at " + r + ":2 (conflict)",
                r + ":1: requests[socks]==2.34.2 requires 'PySocks!=1.5.7,>=1.5.6; extra == \"socks\"', but PySocks is "
                        + "not pinned (missing dependency)"), problems);

        mirror.wheel("app", "1.0").requires("requests[socks]>=2").publish();
        Path viaDep = reqs("app==1.0\nrequests==2.34.2\nidna==3.7\ncharset-normalizer==3.3.2\ncertifi==2024.2.2\n"
                + "urllib3==2.2.1\n");
        assertEquals(List.of(viaDep + ":2: requests==2.34.2 requires 'PySocks!=1.5.7,>=1.5.6; extra == \"socks\"', "
                + "but PySocks is not pinned (missing dependency)"), checkDeps(viaDep),
                "an extra asked for by another pin's requirement switches on its dependencies");
    }

    @Test
    void requiresPythonIsCheckedForEveryFreeze() throws Exception {
        mirror.wheel("future-only", "1.0").requiresPython(">=3.12").publish();
        Path r = reqs("future-only==1.0\n");
        List<String> problems = InstallCheck.check(pin(r), ENV, SCHEME).problems();
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).startsWith(r + ":1: future-only==1.0 requires Python >=3.12, which excludes the target "
                + "CPython 3.11.7"), problems.get(0));
    }

    @Test
    void pinsAreLookedUpAtOnceAndComeBackInTheirOrder() throws Exception {
        // Four lookups must be in flight together: each waits at the latch until all four have arrived. One lookup
        // after another would leave the first waiting alone until its generous timeout (20 s, far above how long
        // four threads of a busy machine take to start), and that pin would come back as a problem.
        CountDownLatch together = new CountDownLatch(4);
        MirrorCatalog dir = MirrorCatalog.open(mirror.dir().toString());
        MirrorCatalog waiting = new MirrorCatalog() {
            @Override
            public List<Listing> list(String project) throws java.io.IOException {
                together.countDown();
                try {
                    if (!together.await(20, TimeUnit.SECONDS)) {
                        throw new java.io.IOException("lookup of " + project + " was alone");
                    }
                } catch (InterruptedException e) {
                    throw new java.io.IOException(e);
                }
                return dir.list(project);
            }

            @Override
            public MirrorFile fetch(Listing file, InstallScheme scheme) throws java.io.IOException {
                return dir.fetch(file, scheme);
            }

            @Override
            public List<String> projects() throws java.io.IOException {
                return dir.projects();
            }

            @Override
            public String describe() {
                return dir.describe();
            }
        };
        Tags tags = Target.tags("3.11", "manylinux_2_36_x86_64");
        Path r = reqs("six==1.17.0\nidna==3.7\nnothere==1.0\ncertifi==2024.2.2\nSix==1.17.0\nurllib3==2.2.1\n");
        Freezer.Result res = new Freezer(waiting, tags::isCompatible, tags.toString(), SCHEME, 4)
                .resolveAll(RequirementsFile.read(r, ENV).pins());
        assertEquals(List.of("six", "idna", "certifi", "urllib3"),
                res.pins().stream().map(p -> p.requirement().name()).toList());
        assertEquals(2, res.problems().size(), res.problems().toString());
        assertTrue(res.problems().get(0).startsWith(r + ":3: no project 'nothere' on mirror"),
                res.problems().toString());
        assertTrue(res.problems().get(1).startsWith(r + ":5: Six is already pinned at " + r + ":1"), res.problems().toString());
    }
}

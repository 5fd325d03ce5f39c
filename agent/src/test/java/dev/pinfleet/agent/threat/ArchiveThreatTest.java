package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.agent.testing.TestWheels.TarItem;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.wheel.testing.WheelBuilder;
import dev.pinfleet.wheel.testing.ZipBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threat model, <b>Names and archives</b>: hostile names in a (validly signed) manifest, hostile wheels and
 * application archives. One agent (real gRPC on loopback, a mirror on loopback) deploys a good release first; every
 * case then deploys a manifest holding that release's wheel plus the hostile artifact and asserts the report's
 * reason (node, file, entry, field), that `current` did not move and still imports, that the agent root holds
 * nothing half-written ({@link CleanRoot}), and that nothing landed outside it: hostile paths aim at a canary name
 * that must not exist anywhere in the test directory nor in /tmp.
 */
class ArchiveThreatTest {
    private static final String APP = "shop";
    private static final String CANARY = "pinfleet-escape-canary-" + UUID.randomUUID();
    /** Climbs out of any directory the agent may be writing in, to /tmp. */
    private static final String CLIMB = "../".repeat(24) + "tmp/";

    @TempDir
    static Path dir;
    static FakeMirror mirror;
    static TestFleet fleet;
    static Agent agent;
    static Artifact core;
    static String before;
    static Path inputs;
    static final AtomicLong serial = new AtomicLong(1);
    static final AtomicInteger files = new AtomicInteger();

    @BeforeAll
    static void startAgentWithAGoodRelease() throws Exception {
        mirror = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        inputs = Files.createDirectories(dir.resolve("inputs"));
        core = wheel(TestWheels.wheel("core-lib", "1.0").file("core_lib/__init__.py", "VALUE = 41\n"));
        // the interpreter itself rather than a version manager's shim (pyenv's costs a second per agent probe)
        String python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        agent = fleet.start("n1", Map.of("python", python));
        DeployReport r = fleet.deploy(agent, fleet.sign(TestFleet.manifest(APP, 1, List.of(core)).build())).report();
        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
        before = r.getRelease();
    }

    @AfterAll
    static void stop() {
        fleet.close();
        mirror.close();
    }

    // ---------------------------------------------------------------- names in the manifest

    @Test
    void manifestFileNameWithDotDotSeparatorOrNulIsRefused() throws Exception {
        String fn = core.getFilename();
        for (String[] c : new String[][] {
            {"../" + fn, "field filename: file name '../" + fn + "' contains a path separator"},
            {"sub/" + fn, "field filename: file name 'sub/" + fn + "' contains a path separator"},
            {"sub\\" + fn, "field filename: file name 'sub\\" + fn + "' contains a path separator"},
            {"core\0" + fn, "field filename: file name 'core\\u0000" + fn + "' contains a control character"},
            {"..", "field filename: file name '..' is a directory reference"},
        }) {
            Artifact bad = core.toBuilder().setFilename(c[0]).setPath("packages/" + c[0]).build();
            assertRefusedBeforeFetch(with(bad), "manifest artifacts[1] (", c[1]);
        }
    }

    @Test
    void manifestPathWithDotDotAbsoluteOrNulIsRefused() throws Exception {
        String fn = core.getFilename();
        for (String[] c : new String[][] {
            {"packages/../../../etc/" + fn, "field path: path 'packages/../../../etc/" + fn + "': file name '..' is a"
                    + " directory reference"},
            {"/etc/" + fn, "field path: path '/etc/" + fn + "' is absolute"},
            {"http://evil.example/" + fn, "field path: path 'http://evil.example/" + fn + "' has an empty component"},
            {"pack\0ages/" + fn, "field path: path 'pack\\u0000ages/" + fn + "': file name 'pack\\u0000ages' contains"
                    + " a control character"},
            {"packages\\..\\" + fn, "field path: path 'packages\\..\\" + fn + "': file name 'packages\\..\\" + fn
                    + "' contains a path separator"},
        }) {
            assertRefusedBeforeFetch(with(core.toBuilder().setPath(c[0]).build()),
                    "manifest artifacts[1] (" + fn + ") " + c[1]);
        }
    }

    @Test
    void manifestAppNameVersionAndInstallPathWithSeparatorsOrNulAreRefused() throws Exception {
        Manifest good = with();
        assertRefusedBeforeFetch(good.toBuilder().setApp("../" + APP).build(),
                "manifest field app: app name '../shop' must match");
        assertRefusedBeforeFetch(good.toBuilder().setApp("shop\0").build(),
                "manifest field app: app name 'shop\\u0000' must match");
        assertRefusedBeforeFetch(with(core.toBuilder().setName("../core-lib").build()),
                "field name: '../core-lib' is not a valid distribution name");
        assertRefusedBeforeFetch(with(core.toBuilder().setVersion("1.0/../../x").build()),
                "field version: '1.0/../../x' is not a valid version");
        Artifact file = core.toBuilder().setKind(ArtifactKind.FILE).setName("conf").setFilename("app.conf")
                .setPath("app.conf").build();
        assertRefusedBeforeFetch(with(file.toBuilder().setInstallPath("../" + CANARY).build()),
                "field install_path: path '../" + CANARY + "': file name '..' is a directory reference");
        assertRefusedBeforeFetch(with(file.toBuilder().setInstallPath("/tmp/" + CANARY).build()),
                "field install_path: path '/tmp/" + CANARY + "' is absolute");
        assertRefusedBeforeFetch(with(file.toBuilder().setInstallPath("etc/a\0b").build()),
                "field install_path: path 'etc/a\\u0000b': file name 'a\\u0000b' contains a control character");
    }

    @Test
    void oversizedManifestIsRefusedBeforeParsing() throws Exception {
        byte[] json = ManifestCodec.toJson(with());
        // valid JSON padded with trailing white space to one byte over the cap: only the size is wrong
        byte[] big = Arrays.copyOf(json, ManifestCodec.MAX_PAYLOAD_BYTES + 1);
        Arrays.fill(big, json.length, big.length, (byte) ' ');
        assertRefused(Envelope.sign(big, List.of(fleet.key())), Phase.VERIFY, false,
                "envelope field payload: 4194305 bytes, more than the manifest limit of 4194304 bytes",
                "refused before checking signatures or parsing");
        // at the cap it is an ordinary manifest (here: the release already current, so a no-op)
        byte[] fits = Arrays.copyOf(big, ManifestCodec.MAX_PAYLOAD_BYTES);
        DeployReport ok = fleet.deploy(agent, Envelope.sign(fits, List.of(fleet.key()))).report();
        assertEquals(Outcome.UNCHANGED, ok.getOutcome(), ok.getError());
    }

    // ---------------------------------------------------------------- what a wheel claims to be

    @Test
    void wheelWhoseMetadataDisagreesWithItsFileNameIsRefused() throws Exception {
        Artifact name = wheel(TestWheels.wheel("alpha", "1.0").file("alpha/__init__.py", "").metadataName("evil"));
        assertRefused(with(name), Phase.INSTALL, "alpha-1.0-py3-none-any.whl: entry 'alpha-1.0.dist-info/METADATA': "
                + "names evil 1.0, but the file name is for alpha 1.0");
        Artifact version = wheel(TestWheels.wheel("beta", "1.0").file("beta/__init__.py", "").metadataVersion("6.6.6"));
        assertRefused(with(version), Phase.INSTALL, "beta-1.0-py3-none-any.whl: entry 'beta-1.0.dist-info/METADATA': "
                + "names beta 6.6.6, but the file name is for beta 1.0");
    }

    @Test
    void sourceDistributionListedIsRefused() throws Exception {
        Path setupCanary = Path.of("/tmp", CANARY + "-setup-py-ran");
        Path sdist = TestWheels.tarGz(inputs.resolve("sdistpkg-1.0.tar.gz"), List.of(
                TarItem.file("sdistpkg-1.0/PKG-INFO", "Metadata-Version: 2.1\nName: sdistpkg\nVersion: 1.0\n"),
                TarItem.file("sdistpkg-1.0/setup.py", "open('" + setupCanary + "', 'w').write('ran')\n")));
        Artifact listed = publish(sdist, ArtifactKind.WHEEL, "sdistpkg", "1.0", "");
        assertRefusedBeforeFetch(with(listed), "manifest artifacts[1] (sdistpkg-1.0.tar.gz) field filename: a WHEEL "
                + "artifact must end in .whl (source distributions are not installed by pinfleet)");
        // the same source distribution under a wheel's name is no zip, let alone a wheel
        Path disguised = Files.copy(sdist, inputs.resolve("sdistpkg-1.0-py3-none-any.whl"));
        assertRefused(with(publish(disguised, ArtifactKind.WHEEL, "sdistpkg", "1.0", "")), Phase.INSTALL,
                "sdistpkg-1.0-py3-none-any.whl: not a zip file (no end of central directory record)");
        assertFalse(Files.exists(setupCanary), "setup.py of a source distribution must never run");
    }

    // ---------------------------------------------------------------- entry names inside archives

    @Test
    void zipEntriesWithDotDotOrAbsolutePathsAreRefused() throws Exception {
        assertRefused(with(zip(item("ok.txt", "ok"), item("../../" + CANARY, "x"))), Phase.INSTALL,
                "entry '../../" + CANARY + "': path has a '..' component");
        assertRefused(with(zip(item(CLIMB + CANARY, "x"))), Phase.INSTALL, "path has a '..' component");
        assertRefused(with(zip(item("/tmp/" + CANARY, "x"))), Phase.INSTALL,
                "entry '/tmp/" + CANARY + "': path is absolute");
        Artifact w = wheel(TestWheels.wheel("slip", "1.0").file("slip/__init__.py", "")
                .rawEntry("slip/../../../" + CANARY, bytes("x"), 0100644));
        assertRefused(with(w), Phase.INSTALL, "slip-1.0-py3-none-any.whl: entry 'slip/../../../" + CANARY
                + "': path has a '..' component");
        Artifact abs = wheel(TestWheels.wheel("slipabs", "1.0").file("slipabs/__init__.py", "")
                .rawEntry("/tmp/" + CANARY, bytes("x"), 0100644));
        assertRefused(with(abs), Phase.INSTALL, "slipabs-1.0-py3-none-any.whl: entry '/tmp/" + CANARY
                + "': path is absolute");
    }

    @Test
    void tarEntriesWithDotDotOrAbsolutePathsAreRefused() throws Exception {
        assertRefused(with(tar(TarItem.file("app/ok.txt", "ok"), TarItem.file("app/../../" + CANARY, "x"))),
                Phase.INSTALL, "entry 'app/../../" + CANARY + "': path has a '..' component");
        assertRefused(with(tar(TarItem.file("./../" + CANARY, "x"))), Phase.INSTALL,
                "entry './../" + CANARY + "': path has a '..' component");
        assertRefused(with(tar(TarItem.file("/tmp/" + CANARY, "x"))), Phase.INSTALL,
                "entry '/tmp/" + CANARY + "': path is absolute");
        // a name over 100 bytes travels in a GNU long-name entry: checked the same
        assertRefused(with(tar(TarItem.file(CLIMB + CANARY, "x"))), Phase.INSTALL, "path has a '..' component");
    }

    @Test
    void tarSymlinkEscapingTheInstallPathIsRefused() throws Exception {
        assertRefused(with(tar(TarItem.symlink("out", CLIMB.substring(0, CLIMB.length() - 1)))), Phase.INSTALL,
                "entry 'out': symbolic link to '../", "refused: target leaves the install_path");
        assertRefused(with(tar(TarItem.symlink("etc", "/etc"))), Phase.INSTALL,
                "entry 'etc': symbolic link to '/etc' refused: target is empty or absolute");
        // writing through a link: the file below it is refused before any link exists on disk
        assertRefused(with(tar(TarItem.symlink("tmp", "sub"), TarItem.file("tmp/" + CANARY, "x"))), Phase.INSTALL,
                "entry 'tmp/" + CANARY + "': lies below the symbolic link 'tmp'");
        // two links that each stay inside, but resolve outside together
        assertRefused(with(tar(TarItem.dir("a/"), TarItem.symlink("a/up", ".."), TarItem.symlink("b", "a/up/.."))),
                Phase.INSTALL, "entry 'b': symbolic link to 'a/up/..' refused: target passes through another symbolic"
                        + " link");
    }

    @Test
    void tarHardLinkIsRefused() throws Exception {
        assertRefused(with(tar(new TarItem("passwd", '1', 0644, new byte[0], "/etc/passwd"))), Phase.INSTALL,
                "entry 'passwd': hard link entries are not allowed");
        assertRefused(with(tar(TarItem.file("f", "x"), new TarItem("g", '1', 0644, new byte[0], "f"))), Phase.INSTALL,
                "entry 'g': hard link entries are not allowed");
    }

    @Test
    void zipSymlinkByUnixModeIsRefused() throws Exception {
        assertRefused(with(zip(new ZipBuilder.Item("passwd", bytes("/etc/passwd"), 0120777, false))), Phase.INSTALL,
                "entry 'passwd': symbolic link entries are not allowed");
        Artifact w = wheel(TestWheels.wheel("linky", "1.0").file("linky/__init__.py", "")
                .rawEntry("linky/shadow", bytes("/etc/shadow"), 0120777));
        assertRefused(with(w), Phase.INSTALL,
                "linky-1.0-py3-none-any.whl: entry 'linky/shadow': symbolic link entries are not allowed");
    }

    // ---------------------------------------------------------------- RECORD

    @Test
    void wheelWhoseContentDoesNotMatchItsRecordHashIsRefused() throws Exception {
        // a file changed after the wheel was built, to as many bytes (a size that disagrees with RECORD is refused
        // before anything is inflated): its bytes no longer hash to what RECORD lists
        Artifact w = wheel(TestWheels.wheel("recmis", "1.0").file("recmis/__init__.py", "SAFE = 1\n")
                .file("recmis/util.py", "def f(): return 1\n").tamper("recmis/util.py", "def f(): return 2\n"));
        assertRefused(with(w), Phase.INSTALL, "recmis-1.0-py3-none-any.whl: entry 'recmis/util.py': content does not"
                + " match its RECORD hash");
    }

    // ---------------------------------------------------------------- bombs

    @Test
    void zipEntryInflatingPastItsDeclaredSizeIsCutAndRefused() throws Exception {
        byte[] zeros = new byte[16 << 20]; // 16 MiB of zeros, some 16 KiB deflated, declared as 100 bytes
        Artifact w = wheel(TestWheels.wheel("bomb", "1.0").file("bomb/__init__.py", "")
                .file("bomb/data.bin", zeros, 0100644).declareSize("bomb/data.bin", 100));
        assertRefused(with(w), Phase.INSTALL, "bomb-1.0-py3-none-any.whl: entry 'bomb/data.bin': inflates to more "
                + "than its declared size of 100 bytes");
        Path z = inputs.resolve("bomb-" + files.incrementAndGet() + ".zip");
        Files.write(z, ZipBuilder.zip(List.of(new ZipBuilder.Item("data.bin", zeros, 0100644, true)),
                Map.of("data.bin", 100)));
        assertRefused(with(publish(z, ArtifactKind.ARCHIVE, "bomb", "1", "bomb")), Phase.INSTALL,
                z.getFileName() + ": entry 'data.bin': inflates to more than its declared size of 100 bytes");
    }

    @Test
    void compressionRatioAboveTheCapIsRefused() throws Exception {
        byte[] zeros = new byte[8 << 20]; // 8 MiB of zeros: far above 200:1
        Artifact w = wheel(TestWheels.wheel("dense", "1.0").file("dense/__init__.py", "")
                .file("dense/zeros.bin", zeros, 0100644));
        assertRefused(with(w), Phase.INSTALL, "dense-1.0-py3-none-any.whl: entry 'dense/zeros.bin': compression ratio",
                "(8388608 bytes from", "exceeds the limit of 200:1 (zip bomb guard)");
        Artifact t = tar(new TarItem("zeros.bin", '0', 0644, zeros, ""));
        assertRefused(with(t), Phase.INSTALL, t.getFilename() + ": entry 'zeros.bin': compression ratio",
                "(8388608 bytes from", "exceeds the limit of 200:1 (archive bomb guard)");
    }

    @Test
    void unpackedSizeAboveTheCapIsRefused() throws Exception {
        long each = 3L << 30; // three entries declaring 3 GiB each: 9 GiB, over the 8 GiB cap
        Path z = inputs.resolve("huge-" + files.incrementAndGet() + ".zip");
        Files.write(z, ZipBuilder.declaredOnly(List.of("a.bin", "b.bin", "c.bin"), each, each / 10));
        assertRefused(with(publish(z, ArtifactKind.ARCHIVE, "huge", "1", "huge")), Phase.INSTALL,
                z.getFileName() + ": entry 'c.bin': declares 3221225472 bytes, which brings the archive to 9663676416 "
                        + "unpacked bytes, more than the limit of 8589934592 (zip bomb guard)");
        Path t = inputs.resolve("huge-" + files.incrementAndGet() + ".tar.gz");
        gzip(t, tarHeader("huge.bin", '0', 9L << 30), new byte[1024]);
        assertRefused(with(publish(t, ArtifactKind.ARCHIVE, "huge", "1", "huge")), Phase.INSTALL,
                t.getFileName() + ": entry 'huge.bin': declares 9663676416 bytes, which brings the archive to "
                        + "9663676416 unpacked bytes, more than the limit of 8589934592 (archive bomb guard)");
    }

    // ---------------------------------------------------------------- entry points

    @Test
    void pathTraversingEntryPointNameIsRefused() throws Exception {
        Artifact up = wheel(TestWheels.wheel("epup", "1.0").file("epup/__init__.py", "def main(): pass\n")
                .consoleScript("../../" + CANARY, "epup:main"));
        assertRefused(with(up), Phase.INSTALL, "epup-1.0-py3-none-any.whl: entry 'epup-1.0.dist-info/entry_points.txt':"
                + " entry point name '../../" + CANARY + "' refused: file name '../../" + CANARY
                + "' contains a path separator");
        Artifact sub = wheel(TestWheels.wheel("epsub", "1.0").file("epsub/__init__.py", "def main(): pass\n")
                .consoleScript("a/b", "epsub:main"));
        assertRefused(with(sub), Phase.INSTALL, "entry point name 'a/b' refused: file name 'a/b' contains a path separator");
        Artifact dots = wheel(TestWheels.wheel("epdots", "1.0").file("epdots/__init__.py", "def main(): pass\n")
                .guiScript("..", "epdots:main"));
        assertRefused(with(dots), Phase.INSTALL, "entry point name '..' refused: file name '..' is a directory reference");
    }

    // ---------------------------------------------------------------- helpers

    /** A manifest (next serial) of the good release's wheel plus {@code extra}. */
    private static Manifest with(Artifact... extra) {
        List<Artifact> all = new ArrayList<>(List.of(core));
        all.addAll(List.of(extra));
        return TestFleet.manifest(APP, serial.incrementAndGet(), all).build();
    }

    private static void assertRefusedBeforeFetch(Manifest m, String... reasons) throws Exception {
        assertRefused(fleet.sign(m), Phase.VERIFY, false, reasons);
    }

    private static void assertRefused(Manifest m, Phase phase, String... reasons) throws Exception {
        assertRefused(fleet.sign(m), phase, true, reasons);
    }

    /**
     * Deploys and asserts: FAILED in {@code phase}, the node and every reason in the error; `current` unchanged and
     * importing; a clean root; no canary anywhere; the mirror asked for nothing unless {@code fetches}.
     */
    private static void assertRefused(SignedManifest env, Phase phase, boolean fetches, String... reasons)
            throws Exception {
        int requests = mirror.requests();
        DeployReport r = fleet.deploy(agent, env).report();
        assertEquals(Outcome.FAILED, r.getOutcome(), "refused, not " + r.getOutcome() + ": " + r.getError());
        assertEquals(phase, r.getFailedPhase(), r.getError());
        assertTrue(r.getError().startsWith("node n1: "), "the error names the node: " + r.getError());
        for (String reason : reasons) {
            assertTrue(r.getError().contains(reason), "'" + reason + "' not in: " + r.getError());
        }
        if (!fetches) {
            assertEquals(requests, mirror.requests(), "nothing may be fetched for a manifest refused in VERIFY");
        }
        Path root = fleet.root("n1");
        assertEquals(before, CleanRoot.current(root, APP), "`current` must not move");
        CleanRoot.assertNothingHalfWritten(root);
        assertEquals(List.of(), releasesBesides(root), "no release besides the good one");
        assertEquals("41", TestWheels.run(List.of(root.resolve("apps/shop/current/bin/python").toString(), "-c",
                "import core_lib; print(core_lib.VALUE)")).strip(), "the current release still imports");
        assertNoCanary();
    }

    private static List<String> releasesBesides(Path root) throws IOException {
        try (Stream<Path> s = Files.list(root.resolve("apps/shop/releases"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.equals(before)).toList();
        }
    }

    /** No file or link named after the canary under the test directory or in /tmp. */
    private static void assertNoCanary() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/tmp"))) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().startsWith(CANARY)).toList());
        }
        try (Stream<Path> s = Files.walk(dir)) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().contains(CANARY)).toList());
        }
    }

    private static Artifact wheel(WheelBuilder w) throws Exception {
        Path file = w.build(Files.createDirectories(inputs.resolve("w" + files.incrementAndGet())));
        mirror.put(file.getFileName().toString(), Files.readAllBytes(file));
        return TestWheels.wheelArtifact(file);
    }

    private static Artifact publish(Path file, ArtifactKind kind, String name, String version, String installPath)
            throws Exception {
        mirror.put(file.getFileName().toString(), Files.readAllBytes(file));
        return TestWheels.artifact(file, kind, name, version, installPath);
    }

    private static ZipBuilder.Item item(String name, String content) {
        return new ZipBuilder.Item(name, bytes(content), 0100644, true);
    }

    /** An ARCHIVE .zip of {@code items}, installed at "app", published on the mirror. */
    private static Artifact zip(ZipBuilder.Item... items) throws Exception {
        Path z = inputs.resolve("app-" + files.incrementAndGet() + ".zip");
        Files.write(z, ZipBuilder.zip(List.of(items)));
        return publish(z, ArtifactKind.ARCHIVE, "app", "1", "app");
    }

    /** An ARCHIVE .tar.gz of {@code items}, installed at "app", published on the mirror. */
    private static Artifact tar(TarItem... items) throws Exception {
        Path t = TestWheels.tarGz(inputs.resolve("app-" + files.incrementAndGet() + ".tar.gz"), List.of(items));
        return publish(t, ArtifactKind.ARCHIVE, "app", "1", "app");
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A ustar header whose size field is base-256 encoded (sizes of 8 GiB and more), with a valid checksum. */
    private static byte[] tarHeader(String name, char type, long size) {
        byte[] h = new byte[512];
        put(h, 0, name);
        put(h, 100, "0000644");
        put(h, 108, "0000000");
        put(h, 116, "0000000");
        h[124] = (byte) 0x80;
        for (int i = 0; i < 8; i++) {
            h[135 - i] = (byte) (size >>> (8 * i));
        }
        put(h, 136, "00000000000");
        h[156] = (byte) type;
        put(h, 257, "ustar");
        put(h, 263, "00");
        Arrays.fill(h, 148, 156, (byte) ' ');
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        put(h, 148, String.format("%06o", sum));
        return h;
    }

    private static void put(byte[] h, int off, String s) {
        byte[] b = bytes(s);
        System.arraycopy(b, 0, h, off, b.length);
    }

    private static void gzip(Path out, byte[]... parts) throws IOException {
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(out))) {
            for (byte[] p : parts) {
                o.write(p);
            }
        }
    }
}

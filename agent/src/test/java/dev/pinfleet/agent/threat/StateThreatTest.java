package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.fs.RootGuard;
import dev.pinfleet.agent.testing.AgentProcess;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.PlanRequest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threat model, <b>Crashes and state</b>: an agent root that was tampered with or cannot take writes. A planted
 * symbolic link or a world-writable directory is refused at start and before a deploy acts, naming the path and
 * why, and nothing is written through the link; a full disk and a read-only state directory are refused with the
 * path and the system's reason, `current` unchanged and nothing half-written left ({@link CleanRoot}).
 *
 * <p>A full disk is a small tmpfs mounted as the agent root, a read-only state directory a read-only bind mount
 * (this machine kind runs tests as root). Where mounting is impossible the same cases run against an agent
 * process under a file-layer fault instead: a file size limit ({@code prlimit --fsize}, "File too large") for the
 * full disk, and, for the unwritable directory, an agent without the capability to override file permissions
 * ({@code setpriv}) on a directory of mode 0555 ("Permission denied"). {@code -Dpinfleet.test.noMount=true}
 * forces that fallback.
 */
class StateThreatTest {
    static final String APP = "shop";

    @TempDir Path dir;
    FakeMirror mirror;
    final KeyPair key = Keys.generate();
    Path trusted;
    Path root;
    Artifact v1Wheel;
    Artifact v2Wheel;
    final List<AutoCloseable> open = new ArrayList<>();
    final List<Path> mounts = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        trusted = Files.createDirectories(dir.resolve("trusted"));
        Keys.writePublic(trusted.resolve("release.pub"), key.getPublic());
        root = dir.resolve("root");
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        v1Wheel = CrashThreatTest.publish(mirror, TestWheels.wheel("shoplib", "1.0")
                .file("shoplib/__init__.py", "V = 1\n").build(wheels));
        v2Wheel = CrashThreatTest.publish(mirror, TestWheels.wheel("shoplib", "2.0")
                .file("shoplib/__init__.py", "V = 2\n").build(wheels));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        for (int i = mounts.size() - 1; i >= 0; i--) {
            Mounts.unmount(mounts.get(i));
        }
        mirror.close();
    }

    /** A running agent on {@link #root}, in this JVM or as a process. */
    record Node(int port, AutoCloseable stop) {}

    private Node inProcess() throws IOException {
        AgentConfig c = AgentConfig.load(null, CrashThreatTest.config(root, trusted, mirror, Map.of()));
        Agent a = new Agent(c, Clock.systemUTC()).start();
        open.add(a);
        return new Node(a.port(), a);
    }

    private Node process(List<String> launcher) throws Exception {
        AgentProcess p = AgentProcess.start(dir.resolve("proc"), CrashThreatTest.config(root, trusted, mirror,
                Map.of()), launcher);
        open.add(p);
        return new Node(p.port(), p);
    }

    private ManagedChannel channel(Node node) {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", node.port()).usePlaintext().build();
        open.add(ch::shutdownNow);
        return ch;
    }

    private DeployReport deploy(Node node, SignedManifest env) {
        CrashThreatTest.Streamed s = CrashThreatTest.deploy(channel(node), env);
        assertEquals(null, s.error(), "the deploy stream ends normally");
        return s.report();
    }

    private SignedManifest sign(Manifest m) {
        return Envelope.sign(ManifestCodec.toJson(m), List.of(key));
    }

    private Manifest release(long serial, Artifact... wheels) {
        return TestFleet.manifest(APP, serial, List.of(wheels)).build();
    }

    private String deployOk(Node node, Manifest m) throws IOException {
        DeployReport r = deploy(node, sign(m));
        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
        assertEquals(CrashThreatTest.idOf(m), CleanRoot.current(root, APP));
        return r.getRelease();
    }

    /**
     * Deploys {@code m} and asserts it is refused in {@code phase} with every one of {@code reasons} in the error,
     * `current` still at {@code before} and importing, and a clean root.
     */
    private DeployReport assertRefused(Node node, Manifest m, String before, Phase phase, String... reasons)
            throws IOException {
        DeployReport r = deploy(node, sign(m));
        assertEquals(Outcome.FAILED, r.getOutcome(), "refused, not " + r.getOutcome() + ": " + r.getError());
        assertEquals(phase, r.getFailedPhase(), r.getError());
        assertTrue(r.getError().startsWith("node n1: "), "the error names the node: " + r.getError());
        for (String reason : reasons) {
            assertTrue(r.getError().contains(reason), "'" + reason + "' not in: " + r.getError());
        }
        assertEquals(before, CleanRoot.current(root, APP), "`current` must not move");
        assertEquals("1", TestWheels.run(List.of(root.resolve("apps/shop/current/bin/python").toString(), "-c",
                "import shoplib; print(shoplib.V)")).strip(), "the running release still imports");
        CleanRoot.assertNothingHalfWritten(root);
        return r;
    }

    /** Every file and link under {@code d} with its size or link target: to prove nothing was written there. */
    private static Map<String, String> snapshot(Path d) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(d)) {
            for (Path p : s.toList()) {
                out.put(d.relativize(p).toString(), Files.isSymbolicLink(p) ? "-> " + Files.readSymbolicLink(p)
                        : Files.isDirectory(p) ? "dir" : Files.size(p) + " bytes " + Files.getLastModifiedTime(p));
            }
        }
        return out;
    }

    @Test
    void symlinkPlantedInsideTheAgentRootIsRefusedAtStartAndBeforeADeployAndNothingIsWrittenThroughIt()
            throws Exception {
        Node first = inProcess();
        String r1 = deployOk(first, release(1, v1Wheel));
        ((Agent) first.stop()).close();

        // apps/shop/releases moved elsewhere and a link planted in its place; a half-built release over there is
        // what the start-up recovery would delete if it followed the link
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Path releases = root.resolve("apps/shop/releases");
        Files.move(releases, elsewhere.resolve("releases"));
        Files.createDirectories(elsewhere.resolve("releases/.staging-0123456789abcdef/lib"));
        Files.writeString(elsewhere.resolve("releases/.staging-0123456789abcdef/lib/keep.py"), "x = 1\n");
        Files.createSymbolicLink(releases, elsewhere.resolve("releases"));
        Map<String, String> before = snapshot(elsewhere);
        IOException e = assertThrows(IOException.class, this::inProcess);
        assertTrue(e.getMessage().startsWith("node n1: agent root " + root + " is unsafe"), e.getMessage());
        assertTrue(e.getMessage().contains(releases + " is a symbolic link to " + elsewhere.resolve("releases")),
                e.getMessage());
        assertEquals(before, snapshot(elsewhere), "nothing written or deleted through the link");
        assertEquals(r1, CleanRoot.current(root, APP));

        // the link removed, the agent starts; a link planted while it runs is refused before the deploy acts
        Files.delete(releases);
        Files.move(elsewhere.resolve("releases"), releases);
        Node agent = inProcess();
        Path tmp = root.resolve("store/tmp");
        Files.delete(tmp);
        Files.createDirectories(elsewhere.resolve("tmp"));
        Files.createSymbolicLink(tmp, elsewhere.resolve("tmp"));
        Map<String, String> planted = snapshot(elsewhere);
        String state = Files.readString(root.resolve("apps/shop/state.json"));
        int requests = mirror.requests();
        DeployReport r = deploy(agent, sign(release(2, v2Wheel)));
        assertEquals(Outcome.FAILED, r.getOutcome(), r.getError());
        assertEquals(Phase.PLAN, r.getFailedPhase());
        assertTrue(r.getError().startsWith("node n1: agent root " + root + " is unsafe"), r.getError());
        assertTrue(r.getError().contains(tmp + " is a symbolic link to " + elsewhere.resolve("tmp")), r.getError());
        assertTrue(r.getError().endsWith("nothing was changed for app shop"), r.getError());
        assertEquals(planted, snapshot(elsewhere), "nothing downloaded through the link");
        assertEquals(requests, mirror.requests(), "nothing fetched");
        assertEquals(state, Files.readString(root.resolve("apps/shop/state.json")), "not even the state is written");
        assertEquals(r1, CleanRoot.current(root, APP));
        Files.delete(tmp);
        Files.createDirectories(tmp);
        CleanRoot.assertNothingHalfWritten(root);
        assertEquals(List.of(), RootGuard.problems(root));
    }

    @Test
    void worldWritableDirectoryInsideTheAgentRootIsRefusedAtStartAndBeforeADeploy() throws Exception {
        Node first = inProcess();
        String r1 = deployOk(first, release(1, v1Wheel));
        ((Agent) first.stop()).close();

        Path store = root.resolve("store");
        Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException e = assertThrows(IOException.class, this::inProcess);
        assertTrue(e.getMessage().startsWith("node n1: agent root " + root + " is unsafe"), e.getMessage());
        assertTrue(e.getMessage().contains(store + " is world-writable (mode rwxrwxrwx"), e.getMessage());

        Files.setPosixFilePermissions(store, PosixFilePermissions.fromString("rwxr-xr-x"));
        Node agent = inProcess();
        Path releases = root.resolve("apps/shop/releases");
        Mounts.run(List.of("chmod", "1777", releases.toString())); // world-writable with the sticky bit, as /tmp
        int requests = mirror.requests();
        String refused = AgentServiceGrpc.newBlockingStub(channel(agent)).plan(PlanRequest.newBuilder()
                .setManifest(sign(release(2, v2Wheel))).build()).getRefused();
        assertTrue(refused.contains(releases + " is world-writable"), "a plan says so too: " + refused);
        assertRefused(agent, release(2, v2Wheel), r1, Phase.PLAN,
                releases + " is world-writable (mode rwxrwxrwx", "nothing was changed for app shop");
        assertEquals(requests, mirror.requests(), "nothing fetched");
        Files.setPosixFilePermissions(releases, PosixFilePermissions.fromString("rwxr-xr-x"));
        deployOk(agent, release(2, v2Wheel));
    }

    @Test
    void diskFullIsRefusedNamingThePathAndLeavesNothingHalfWritten() throws Exception {
        Files.createDirectories(root);
        Node agent;
        String noSpace;
        if (Mounts.available()) {
            Mounts.run(List.of("mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", root.toString()));
            mounts.add(root);
            agent = inProcess();
            noSpace = "No space left on device";
        } else {
            // file-layer fault: no file of the agent may grow beyond 2 MiB
            agent = process(List.of("prlimit", "--fsize=" + (2 << 20)));
            noSpace = "File too large";
        }
        String r1 = deployOk(agent, release(1, v1Wheel));
        Path wheels = dir.resolve("wheels");

        // a download larger than the disk: cut when the disk is full, refused in FETCH
        Artifact big = CrashThreatTest.publish(mirror, TestWheels.wheel("bigdata", "1.0")
                .file("bigdata/__init__.py", "").file("bigdata/blob.bin", FakeMirror.randomBytes(3 << 20, 11), 0100644)
                .build(wheels));
        DeployReport fetch = assertRefused(agent, release(2, v1Wheel, big), r1, Phase.FETCH, noSpace,
                big.getFilename());
        assertTrue(fetch.getError().contains(root.toString()), "names the path on the full disk: " + fetch.getError());

        // a small download that unpacks to more than the disk holds: refused in INSTALL
        byte[] hex = FakeMirror.randomBytes(5 << 19, 21); // 2.5 MiB of hex digits: about 2:1 compressed
        for (int i = 0; i < hex.length; i++) {
            hex[i] = (byte) "0123456789abcdef".charAt(hex[i] & 15);
        }
        Artifact bomb = CrashThreatTest.publish(mirror, TestWheels.wheel("packed", "1.0")
                .file("packed/__init__.py", "").file("packed/digits.txt", hex, 0100644).build(wheels));
        assertTrue(bomb.getSize() < 3 << 19, "the download fits on the disk: " + bomb.getSize());
        DeployReport install = assertRefused(agent, release(3, v1Wheel, bomb), r1, Phase.INSTALL, noSpace);
        assertTrue(install.getError().contains(root.toString()), "names the path on the full disk: "
                + install.getError());

        // the serials were not consumed, and the disk holds the small release again
        deployOk(agent, release(4, v2Wheel));
    }

    @Test
    void unwritableStateDirectoryIsRefusedBeforeAnythingIsFetchedOrSwitched() throws Exception {
        Path app = root.resolve("apps/shop");
        Node agent;
        String reason;
        if (Mounts.available()) {
            agent = inProcess();
            reason = "Read-only file system";
        } else {
            // file-layer fault: the agent runs without the capability to override file permissions
            agent = process(List.of("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"));
            reason = "Permission denied";
        }
        String r1 = deployOk(agent, release(1, v1Wheel));
        if (reason.startsWith("Read-only")) {
            Mounts.run(List.of("mount", "--bind", app.toString(), app.toString()));
            mounts.add(app);
            Mounts.run(List.of("mount", "-o", "remount,bind,ro", app.toString()));
        } else {
            Files.setPosixFilePermissions(app, PosixFilePermissions.fromString("r-xr-xr-x"));
        }
        int requests = mirror.requests();
        String state = Files.readString(app.resolve("state.json"));
        assertRefused(agent, release(2, v2Wheel), r1, Phase.PLAN, "cannot write to the state directory " + app
                + " (" + reason + "); nothing was fetched or switched, release " + r1 + " stays current");
        assertEquals(requests, mirror.requests(), "refused before anything is fetched");
        assertEquals(state, Files.readString(app.resolve("state.json")));

        if (reason.startsWith("Read-only")) {
            Mounts.unmount(app);
            mounts.remove(app);
        } else {
            Files.setPosixFilePermissions(app, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        deployOk(agent, release(2, v2Wheel)); // the serial was not consumed
    }

    /** Mounting for the tests that need a full or read-only file system; see the class comment. */
    static final class Mounts {
        private static Boolean available;

        private Mounts() {}

        /** Whether this process may mount (a tmpfs is mounted and unmounted once to find out). */
        static synchronized boolean available() throws IOException {
            if (available == null) {
                if (Boolean.getBoolean("pinfleet.test.noMount")) {
                    available = false;
                } else {
                    Path probe = Files.createTempDirectory("pinfleet-mount-probe");
                    try {
                        run(List.of("mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", probe.toString()));
                        unmount(probe);
                        available = true;
                    } catch (IOException e) {
                        System.err.println("StateThreatTest: cannot mount (" + e.getMessage().strip()
                                + "); using the file-layer fallback");
                        available = false;
                    } finally {
                        Files.deleteIfExists(probe);
                    }
                }
            }
            return available;
        }

        static void run(List<String> cmd) throws IOException {
            TestWheels.run(cmd);
        }

        static void unmount(Path p) throws IOException {
            run(List.of("umount", p.toString()));
        }
    }
}

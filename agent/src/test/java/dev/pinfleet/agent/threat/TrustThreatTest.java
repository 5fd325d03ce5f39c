package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.Signature;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threat model, <b>Trust</b>: a manifest without enough trusted, fresh signatures for this node is refused in VERIFY,
 * before anything is fetched. Each case runs end to end (a real agent behind real gRPC on loopback, a mirror on
 * loopback), first deploys a good release, then asserts the report's reason, that `current` did not move, that the
 * mirror was not asked for anything, and that the agent root holds nothing half-written ({@link CleanRoot}).
 */
class TrustThreatTest {
    private static final String APP = "shop";

    @TempDir
    Path dir;
    FakeMirror mirror;
    TestFleet fleet;
    Artifact v1Wheel;
    Artifact v2Wheel;

    @BeforeEach
    void setUp() throws Exception {
        mirror = FakeMirror.start();
        fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri());
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        v1Wheel = publish(TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n").build(wheels));
        v2Wheel = publish(TestWheels.wheel("shoplib", "2.0").file("shoplib/__init__.py", "V = 2\n").build(wheels));
    }

    @AfterEach
    void tearDown() {
        fleet.close();
        mirror.close();
    }

    private static String interpreter;

    /**
     * The interpreter python3 resolves to, asked once: the agents are configured with it directly, so that each
     * start's probe does not go through a version manager's shim (pyenv's takes a second or more).
     */
    static synchronized String interpreter() throws Exception {
        if (interpreter == null) {
            interpreter = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        }
        return interpreter;
    }

    private Agent start(Map<String, String> config) throws Exception {
        Map<String, String> c = new java.util.HashMap<>(config);
        c.put("python", interpreter());
        return fleet.start("n1", c);
    }

    private Artifact publish(Path wheel) throws Exception {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    private Manifest release(Artifact wheel, long serial) {
        return TestFleet.manifest(APP, serial, List.of(wheel)).build();
    }

    private static SignedManifest signedBy(Manifest m, KeyPair... keys) {
        return Envelope.sign(ManifestCodec.toJson(m), List.of(keys));
    }

    /** Deploys and expects OK; returns the release `current` then points at. */
    private String deployOk(Agent agent, SignedManifest env) throws Exception {
        DeployReport r = fleet.deploy(agent, env).report();
        assertEquals(Outcome.OK, r.getOutcome(), r.getError());
        assertEquals(r.getRelease(), CleanRoot.current(fleet.root("n1"), APP));
        return r.getRelease();
    }

    /**
     * Deploys {@code env} and asserts it is refused in VERIFY with every one of {@code reasons} in the error, `current`
     * still at {@code before}, no request reaching the mirror, and a clean agent root.
     */
    private DeployReport assertRefused(Agent agent, SignedManifest env, String before, String... reasons)
            throws Exception {
        int requests = mirror.requests();
        DeployReport r = fleet.deploy(agent, env).report();
        assertEquals(Outcome.FAILED, r.getOutcome(), "refused, not " + r.getOutcome() + ": " + r.getError());
        assertEquals(Phase.VERIFY, r.getFailedPhase(), r.getError());
        assertTrue(r.getError().startsWith("node n1: "), "the error names the node: " + r.getError());
        for (String reason : reasons) {
            assertTrue(r.getError().contains(reason), "'" + reason + "' not in: " + r.getError());
        }
        assertEquals(0, r.getArtifactsCount(), "a refused manifest reports no artifact");
        assertEquals(before, CleanRoot.current(fleet.root("n1"), APP), "`current` must not move");
        assertEquals(requests, mirror.requests(), "nothing may be fetched for a refused manifest");
        CleanRoot.assertNothingHalfWritten(fleet.root("n1"));
        String v = TestWheels.run(List.of(fleet.root("n1").resolve("apps/shop/current/bin/python").toString(), "-c",
                "import shoplib; print(shoplib.V)")).strip();
        assertEquals(before.equals(idOf(release(v1Wheel, 1))) ? "1" : "2", v, "the running release still imports");
        return r;
    }

    private static String idOf(Manifest m) {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
    }

    @Test
    void unsignedManifestIsRefused() throws Exception {
        Agent agent = start(Map.of());
        String before = deployOk(agent, fleet.sign(release(v1Wheel, 1)));
        SignedManifest unsigned = signedBy(release(v2Wheel, 2));
        assertEquals(0, unsigned.getSignaturesCount());
        assertRefused(agent, unsigned, before, "envelope is unsigned: 0 signatures, 1 trusted needed");
        // a signature entry naming the trusted key but carrying no signature bytes is no signature either
        SignedManifest empty = unsigned.toBuilder().addSignatures(Signature.newBuilder()
                .setKeyid(Keys.keyId(fleet.key().getPublic())).setSig(ByteString.EMPTY)).build();
        assertRefused(agent, empty, before, "0 valid signature(s) from distinct trusted keys, 1 needed",
                "does not match the payload");
    }

    @Test
    void fewerSignaturesThanTheThresholdAreRefused() throws Exception {
        KeyPair second = trustAnotherKey("second.pub");
        Agent agent = start(Map.of("threshold", "2"));
        String before = deployOk(agent, signedBy(release(v1Wheel, 1), fleet.key(), second));
        assertRefused(agent, signedBy(release(v2Wheel, 2), fleet.key()), before,
                "1 valid signature(s) from distinct trusted keys, 2 needed");
        assertRefused(agent, signedBy(release(v2Wheel, 2), second), before,
                "1 valid signature(s) from distinct trusted keys, 2 needed");
    }

    @Test
    void oneKeySigningTwiceCountsOnce() throws Exception {
        KeyPair second = trustAnotherKey("second.pub");
        Agent agent = start(Map.of("threshold", "2"));
        String before = deployOk(agent, signedBy(release(v1Wheel, 1), fleet.key(), second));
        SignedManifest once = signedBy(release(v2Wheel, 2), fleet.key());
        // made by hand, as an attacker would: Envelope itself refuses a second signature by one key
        SignedManifest twice = once.toBuilder().addSignatures(once.getSignatures(0)).build();
        assertEquals(2, twice.getSignaturesCount());
        assertRefused(agent, twice, before, "1 valid signature(s) from distinct trusted keys, 2 needed");
        // nor does a stranger's signature make up the difference
        KeyPair stranger = Keys.generate();
        assertRefused(agent, signedBy(release(v2Wheel, 2), fleet.key(), stranger), before,
                "1 valid signature(s) from distinct trusted keys, 2 needed",
                "signed by untrusted key(s) [" + Keys.keyId(stranger.getPublic()).substring(0, 16) + "]");
    }

    @Test
    void replayOfAnOlderSerialIsRefused() throws Exception {
        Agent agent = start(Map.of());
        SignedManifest old = fleet.sign(release(v1Wheel, 1));
        deployOk(agent, old);
        String before = deployOk(agent, fleet.sign(release(v2Wheel, 2)));
        assertTrue(Files.isDirectory(fleet.root("n1").resolve("apps/shop/releases").resolve(idOf(release(v1Wheel, 1)))),
                "the old release is still on disk: only the serial rule stands between the replay and a switch");
        assertRefused(agent, old, before, "manifest serial 1 for app shop is not greater than the last applied serial 2",
                "replay or stale manifest refused");
    }

    @Test
    void differentManifestWithTheSameSerialIsRefused() throws Exception {
        Agent agent = start(Map.of());
        String before = deployOk(agent, fleet.sign(release(v1Wheel, 3)));
        assertRefused(agent, fleet.sign(release(v2Wheel, 3)), before,
                "manifest serial 3 for app shop is not greater than the last applied serial 3");
        // the very same manifest again is the one serial repeat allowed: a no-op
        DeployReport again = fleet.deploy(agent, fleet.sign(release(v1Wheel, 3))).report();
        assertEquals(Outcome.UNCHANGED, again.getOutcome(), again.getError());
        assertEquals(before, CleanRoot.current(fleet.root("n1"), APP));
    }

    @Test
    void expiredManifestIsRefused() throws Exception {
        Agent agent = start(Map.of());
        String before = deployOk(agent, fleet.sign(release(v1Wheel, 1)));
        Manifest expired = release(v2Wheel, 2).toBuilder()
                .setExpires(Timestamps.fromMillis(System.currentTimeMillis() - 60_000)).build();
        assertRefused(agent, fleet.sign(expired), before, "manifest for app shop serial 2 expired at "
                + Timestamps.toString(expired.getExpires()));
    }

    @Test
    void manifestSignedForAnotherEnvironmentIsRefused() throws Exception {
        Agent agent = start(Map.of("environment", "staging"));
        String before = deployOk(agent, fleet.sign(release(v1Wheel, 1).toBuilder().setEnvironment("staging").build()));
        assertRefused(agent, fleet.sign(release(v2Wheel, 2).toBuilder().setEnvironment("production").build()), before,
                "manifest is bound to environment 'production' but this node is in environment 'staging'");
    }

    @Test
    void manifestBoundToAnEnvironmentIsRefusedByANodeWithoutOne() throws Exception {
        Agent agent = start(Map.of());
        String before = deployOk(agent, fleet.sign(release(v1Wheel, 1)));
        assertRefused(agent, fleet.sign(release(v2Wheel, 2).toBuilder().setEnvironment("production").build()), before,
                "manifest is bound to environment 'production' but this node is in environment ''");
    }

    @Test
    void keyRemovedFromTheTrustedSetNoLongerCounts() throws Exception {
        KeyPair retired = trustAnotherKey("retired.pub");
        Agent first = start(Map.of());
        String before = deployOk(first, signedBy(release(v1Wheel, 1), retired));
        first.close();
        // the operator drops the key (the Ansible role removes a key dropped from its list) and restarts the agent
        Files.delete(fleet.trustedKeys().resolve("retired.pub"));
        Agent restarted = start(Map.of());
        assertRefused(restarted, signedBy(release(v2Wheel, 2), retired), before,
                "0 valid signature(s) from distinct trusted keys, 1 needed",
                "signed by untrusted key(s) [" + Keys.keyId(retired.getPublic()).substring(0, 16) + "]");
        // the keys still trusted work, and the refused manifest consumed no serial
        assertNotEquals(before, deployOk(restarted, fleet.sign(release(v2Wheel, 2))));
    }

    /** Writes one more trusted public key next to the fleet's own (before the agent starts) and returns its pair. */
    private KeyPair trustAnotherKey(String file) throws Exception {
        KeyPair k = Keys.generate();
        Keys.writePublic(fleet.trustedKeys().resolve(file), k.getPublic());
        return k;
    }
}

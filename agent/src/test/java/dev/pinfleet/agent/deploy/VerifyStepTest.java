package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.agent.testing.ManualClock;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.TestManifests;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import dev.pinfleet.trust.TrustPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replay rule of step VERIFY ({@link VerifyStep#checkSerial}) at its edges: a greater serial passes; an equal or
 * smaller one is refused unless it is the very manifest recorded with that serial and its release is current (a
 * no-op) or recorded but not yet switched to (a crash between recording and switching).
 */
class VerifyStepTest {
    /** The fields the rule looks at: app, serial and the content (here just the Python version). */
    private static Manifest.Builder manifest() {
        return Manifest.newBuilder().setApp("web").setSerial(1).setPython("3.11");
    }

    private static VerifyStep.Verified verified(Manifest m) {
        String digest = ManifestCodec.contentDigest(m);
        return new VerifyStep.Verified(SignedManifest.getDefaultInstance(), m, digest, ManifestCodec.releaseId(digest));
    }

    private static VerifyStep.Baseline baseline(Manifest incoming, AppState state, String current) {
        return new VerifyStep.Baseline(verified(incoming), AppLayout.of(Path.of("/nonexistent-root"), "web"), state,
                current);
    }

    private static AppState recorded(Manifest m) {
        VerifyStep.Verified v = verified(m);
        return AppState.newBuilder().setApp("web").setSerial(m.getSerial()).setManifestDigest(v.digest())
                .setRelease(v.release()).build();
    }

    private static void assertRefused(VerifyStep.Baseline b, String why) {
        DeployFailure f = assertThrows(DeployFailure.class, () -> VerifyStep.checkSerial(b));
        assertEquals(Phase.VERIFY, f.phase());
        assertEquals(FailureReason.REASON_VERIFY_SERIAL, f.reason());
        assertEquals(why, f.getMessage());
    }

    @Test
    void aGreaterSerialPassesAndAFirstDeployToo() throws Exception {
        Manifest five = manifest().setSerial(5).build();
        Manifest six = manifest().setSerial(6).build();
        VerifyStep.checkSerial(baseline(six, recorded(five), verified(five).release()));
        VerifyStep.checkSerial(baseline(manifest().setSerial(1).build(), AppState.getDefaultInstance(),
                null));
    }

    @Test
    void anEqualOrSmallerSerialOfAnotherManifestIsARefusedReplay() {
        Manifest five = manifest().setSerial(5).build();
        AppState state = recorded(five);
        String current = verified(five).release();
        Manifest otherFive = manifest().setSerial(5).setPython("3.12").build();
        assertRefused(baseline(otherFive, state, current), "manifest serial 5 for app web is not greater than the"
                + " last applied serial 5 (replay or stale manifest refused)");
        // an older serial of the same content: the digest is equal, the serial is not the one recorded with it
        Manifest four = manifest().setSerial(4).build();
        assertRefused(baseline(four, state, current), "manifest serial 4 for app web is not greater than the last"
                + " applied serial 5 (replay or stale manifest refused)");
    }

    @Test
    void theRecordedManifestAgainPassesWhenItsReleaseIsCurrentOrRecordedButNotYetSwitchedTo() throws Exception {
        Manifest five = manifest().setSerial(5).build();
        AppState state = recorded(five);
        String release = verified(five).release();
        VerifyStep.checkSerial(baseline(five, state, release));
        // stopped after recording serial 5 and its release, before `current` moved
        VerifyStep.checkSerial(baseline(five, state, "r-old"));
        VerifyStep.checkSerial(baseline(five, state, null));
    }

    @Test
    void theRecordedSerialWithAnotherDigestOrReleaseIsRefused() {
        Manifest five = manifest().setSerial(5).build();
        String release = verified(five).release();
        String why = "manifest serial 5 for app web is not greater than the last applied serial 5 (replay or stale"
                + " manifest refused)";
        // the state names another digest for serial 5
        assertRefused(baseline(five, recorded(five).toBuilder().setManifestDigest("0".repeat(64)).build(), release),
                why);
        // the digest matches but neither `current` nor the state names its release
        assertRefused(baseline(five, recorded(five).toBuilder().setRelease("r-other").build(), "r-old"), why);
    }

    /** Step VERIFY of a node "n1" in environment "prod" running Python 3.11, trusting {@code trusted}, at {@code T0}. */
    private static VerifyStep step(Path root, KeyPair trusted) {
        TrustPolicy trust = new TrustPolicy(Map.of(Keys.keyId(trusted.getPublic()), trusted.getPublic()), 1);
        PythonInfo python = new PythonInfo(Path.of("/opt/py/bin/python3"), "3.11", "3.11.9", "cpython", "cp311",
                List.of("manylinux_2_17_x86_64"));
        ManualClock clock = new ManualClock(T0, Duration.ZERO);
        return new VerifyStep("n1", root, "prod", trust, python, new Releases(root, 3, 0, null, null, clock), clock);
    }

    private static final Instant T0 = Instant.parse("2026-12-06T00:00:00Z");

    private static Manifest.Builder signable() {
        return TestManifests.valid(T0.toEpochMilli() - 60_000).setEnvironment("prod");
    }

    private static SignedManifest sign(Manifest m, KeyPair key) {
        return Envelope.sign(ManifestCodec.toJson(m), List.of(key));
    }

    private static void assertVerifyRefused(VerifyStep step, SignedManifest envelope, FailureReason reason,
            String message) {
        DeployFailure f = assertThrows(DeployFailure.class, () -> step.verify(envelope));
        assertEquals(Phase.VERIFY, f.phase());
        assertEquals(reason, f.reason());
        assertTrue(f.getMessage().startsWith(message), f.getMessage());
    }

    @Test
    void aSignedManifestForThisNodeIsVerifiedWithItsDigestAndRelease(@TempDir Path root) throws Exception {
        KeyPair key = Keys.generate();
        Manifest m = signable().build();
        SignedManifest envelope = sign(m, key);
        VerifyStep.Verified v = step(root, key).verify(envelope);
        assertEquals(envelope, v.envelope());
        assertEquals(m, v.manifest());
        assertEquals("web", v.app());
        assertEquals(ManifestCodec.contentDigest(m), v.digest());
        assertEquals(ManifestCodec.releaseId(v.digest()), v.release());
    }

    @Test
    void eachRefusalOfVerifyCarriesItsOwnReason(@TempDir Path root) throws Exception {
        KeyPair key = Keys.generate();
        VerifyStep step = step(root, key);
        assertVerifyRefused(step, sign(signable().build(), Keys.generate()), FailureReason.REASON_VERIFY_SIGNATURE, "");
        assertVerifyRefused(step, sign(signable().setExpires(Timestamps.fromMillis(T0.toEpochMilli())).build(), key),
                FailureReason.REASON_VERIFY_EXPIRED, "manifest for app web serial 1 expired at ");
        assertVerifyRefused(step, sign(signable().setEnvironment("staging").build(), key),
                FailureReason.REASON_VERIFY_ENVIRONMENT, "manifest is bound to environment 'staging'");
        assertVerifyRefused(step, sign(signable().setSerial(0).build(), key), FailureReason.REASON_VERIFY_MANIFEST,
                "manifest field serial: ");
        assertVerifyRefused(step, sign(signable().setPython("3.12").build(), key), FailureReason.REASON_VERIFY_PYTHON,
                "manifest targets Python 3.12 but this node's interpreter /opt/py/bin/python3 is Python 3.11");
        assertVerifyRefused(step, sign(signable().setPostSwitchHook(HookCommand.getDefaultInstance()).build(), key),
                FailureReason.REASON_VERIFY_MANIFEST, "manifest field post_switch_hook: ");
    }

    @Test
    void theBaselineIsTheAppsStateAndCurrentReleaseOnASafeRootAndAPlanFailureOnAnUnsafeOne(@TempDir Path root)
            throws Exception {
        KeyPair key = Keys.generate();
        VerifyStep step = step(root, key);
        VerifyStep.Verified v = step.verify(sign(signable().build(), key));
        VerifyStep.Baseline first = step.baseline(v);
        assertEquals(AppLayout.of(root, "web"), first.layout());
        assertEquals(0, first.state().getSerial(), "no serial recorded yet");
        assertEquals("", first.state().getRelease());
        assertNull(first.current());
        assertEquals(v, first.verified());

        AppLayout layout = AppLayout.of(root, "web");
        Files.createDirectories(layout.release("r1"));
        Durable.swapSymlink(layout.current(), Path.of("releases/r1"));
        AppState state = AppState.newBuilder().setApp("web").setSerial(3).setRelease("r1").build();
        StateStore.write(layout, state);
        VerifyStep.Baseline later = step.baseline(v);
        assertEquals("r1", later.current());
        assertEquals(3, later.state().getSerial());

        Files.setPosixFilePermissions(Files.createDirectories(root.resolve("trash")),
                PosixFilePermissions.fromString("rwxrwxrwx"));
        DeployFailure f = assertThrows(DeployFailure.class, () -> step.baseline(v));
        assertEquals(Phase.PLAN, f.phase());
        assertEquals(FailureReason.REASON_PLAN_UNSAFE_ROOT, f.reason());
        assertTrue(f.getMessage().startsWith("agent root " + root + " is unsafe"), f.getMessage());
        assertTrue(f.getMessage().endsWith("; nothing was changed for app web"), f.getMessage());
    }
}

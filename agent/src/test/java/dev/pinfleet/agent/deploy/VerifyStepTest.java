package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.SignedManifest;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

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
}

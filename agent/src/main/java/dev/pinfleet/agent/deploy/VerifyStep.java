package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fs.RootGuard;
import dev.pinfleet.agent.hooks.HookSpec;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;

/**
 * Step VERIFY, for a deploy and for a plan alike: is this envelope one this node acts on (signatures, manifest,
 * expiry, environment, Python, hook and health check), is the agent root safe, where does the app stand, and is
 * the serial fresh. Reads only.
 */
final class VerifyStep {
    /** What a verified envelope says: the manifest, its content digest and the release id it names. */
    record Verified(SignedManifest envelope, Manifest manifest, String digest, String release) {
        String app() {
            return manifest.getApp();
        }
    }

    /**
     * Where the app stands before the deploy.
     *
     * @param current the release `current` points at, null when none
     */
    record Baseline(Verified verified, AppLayout layout, AppState state, String current) {}

    private final String node;
    private final Path root;
    private final String environment;
    private final TrustPolicy trust;
    private final PythonInfo python;
    private final Releases releases;
    private final Clock clock;

    VerifyStep(String node, Path root, String environment, TrustPolicy trust, PythonInfo python, Releases releases,
            Clock clock) {
        this.node = node;
        this.root = root;
        this.environment = environment;
        this.trust = trust;
        this.python = python;
        this.releases = releases;
        this.clock = clock;
    }

    /**
     * Checks the envelope and the manifest it carries against this node: the trust policy's admission (size,
     * signatures, manifest, expiry, environment: the check the operator's CLI makes too), then the Python and the
     * hook and health check.
     */
    Verified verify(SignedManifest envelope) throws DeployFailure {
        Manifest m;
        try {
            m = trust.admit(envelope, clock.instant(), environment);
        } catch (ManifestException e) {
            throw refused(switch (e.reason()) {
                case SIGNATURE -> FailureReason.REASON_VERIFY_SIGNATURE;
                case EXPIRED -> FailureReason.REASON_VERIFY_EXPIRED;
                case ENVIRONMENT -> FailureReason.REASON_VERIFY_ENVIRONMENT;
                case INVALID -> FailureReason.REASON_VERIFY_MANIFEST;
            }, e.getMessage(), e);
        }
        if (!m.getPython().equals(python.version())) {
            throw refused(FailureReason.REASON_VERIFY_PYTHON, "manifest targets Python " + m.getPython()
                    + " but this node's interpreter " + python.executable() + " is Python " + python.version(), null);
        }
        String hooks = HookSpec.check(m);
        if (hooks != null) {
            throw refused(FailureReason.REASON_VERIFY_MANIFEST, hooks, null);
        }
        String digest = ManifestCodec.contentDigest(m);
        return new Verified(envelope, m, digest, ManifestCodec.releaseId(digest));
    }

    /**
     * Where the app of {@code v} stands: its state and current release. First the agent root must hold no planted
     * link and no world-writable directory ({@link RootGuard}); nothing is written when it does, not even the
     * failure into the app's state.
     */
    Baseline baseline(Verified v) throws DeployFailure, IOException {
        try {
            RootGuard.check(node, root);
        } catch (RootGuard.UnsafeRootException e) {
            // PLAN: a local file system fault
            throw new DeployFailure(Phase.PLAN, FailureReason.REASON_PLAN_UNSAFE_ROOT, e.detail()
                    + "; nothing was changed for app " + v.app(), e);
        }
        AppLayout layout = AppLayout.of(root, v.app());
        return new Baseline(v, layout, StateStore.read(layout, v.app()), releases.currentRelease(layout));
    }

    /**
     * Refuses a serial not greater than the last one recorded, except the very manifest recorded with it: when its
     * release is current (a no-op), or when the state names its release but `current` does not point there (the
     * agent stopped between recording the serial and switching: sending it again completes the switch).
     */
    static void checkSerial(Baseline b) throws DeployFailure {
        Manifest m = b.verified().manifest();
        AppState state = b.state();
        String id = b.verified().release();
        boolean sameAgain = m.getSerial() == state.getSerial() && b.verified().digest().equals(state.getManifestDigest())
                && (id.equals(b.current()) || id.equals(state.getRelease()));
        if (m.getSerial() <= state.getSerial() && !sameAgain) {
            throw refused(FailureReason.REASON_VERIFY_SERIAL, "manifest serial " + m.getSerial() + " for app "
                    + m.getApp() + " is not greater than the last applied serial " + state.getSerial()
                    + " (replay or stale manifest refused)", null);
        }
    }

    private static DeployFailure refused(FailureReason reason, String why, Throwable cause) {
        return new DeployFailure(Phase.VERIFY, reason, why, cause);
    }
}

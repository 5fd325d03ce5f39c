package dev.pinfleet.mirror.policy;

import dev.pinfleet.manifest.Names;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The publish gate: a user may publish to a mirror only when {@code DIR/uploaders} lists them as having
 * acknowledged the mirror's current upload policy version. Local publishing and the HTTP upload endpoint
 * both pass through here (by way of {@code Publisher.requireSignOff}, which turns a refusal into the publisher's
 * NOT_SIGNED_OFF), and the version it returns is what the audit line records. The policy package knows nothing
 * of publishing.
 */
public final class SignOff {
    private SignOff() {}

    /**
     * Checks that {@code user} may publish to {@code mirror}.
     *
     * @return the current policy version, which {@code user} has acknowledged
     * @throws PolicyException when the mirror has no valid policy, the uploaders file is malformed, the user is
     *                         not listed, or listed only for an older version; the message points at the policy
     *                         file, its current version and the command to sign
     */
    public static String require(Path mirror, String user) throws PolicyException, IOException {
        UploadPolicy policy;
        List<Uploaders.Entry> entries;
        try {
            policy = UploadPolicy.load(mirror);
            entries = Uploaders.read(mirror);
        } catch (PolicyException e) {
            throw new PolicyException(e.getMessage() + "; publishing is refused");
        }
        String how = "read the upload policy " + policy.policyFile() + " (version " + policy.version()
                + ") and sign it off: pinfleet mirror acknowledge --mirror " + mirror + " --as " + Names.printable(user)
                + " --policy-version " + policy.version();
        if (Uploaders.checkUser(user) != null) {
            throw new PolicyException("cannot publish to mirror " + mirror + ": " + Uploaders.checkUser(user));
        }
        if (Uploaders.find(entries, user, policy.version()) != null) {
            return policy.version();
        }
        Uploaders.Entry latest = Uploaders.latest(entries, user);
        if (latest == null) {
            throw new PolicyException(
                    user + " may not publish to mirror " + mirror + ": " + Uploaders.file(mirror)
                            + " does not list " + user + " as having signed off its upload policy; " + how);
        }
        throw new PolicyException(
                user + " may not publish to mirror " + mirror + ": " + user + " signed off upload policy version "
                        + latest.policyVersion() + " (" + Uploaders.file(mirror) + ":" + latest.line()
                        + "), but the current version is " + policy.version() + "; " + how);
    }
}

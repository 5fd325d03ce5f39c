package dev.pinfleet.controller.service;

import dev.pinfleet.controller.keys.ManifestChecks;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Signature;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Target;
import dev.pinfleet.proto.v1.Targets;
import dev.pinfleet.trust.TrustPolicy;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a submission must pass before any node is contacted: targets that name nodes, and a manifest an agent would
 * take, checked with the agents' own code ({@link ManifestChecks#check}): signed (by a threshold of the
 * controller's trusted keys, when it has some), valid, not expired, and bound to the environment of every target
 * whose inventory gives one (or to none where they give none).
 *
 * @param manifest    the parsed manifest
 * @param digest      its content digest
 * @param keyIds      the envelope's signing key ids, in order
 * @param environment the rollout's environment: the manifest's binding, else the one its targets share, else ""
 */
record SubmissionCheck(Manifest manifest, String digest, List<String> keyIds, String environment) {
    /** Most bytes of an inventory snapshot kept in a record. */
    static final int MAX_INVENTORY_BYTES = 1 << 20;
    /** Most characters of an operator's message. */
    static final int MAX_MESSAGE = 4096;

    static SubmissionCheck of(SignedManifest envelope, Targets targets, String message, TrustPolicy trust, Clock clock) {
        checkTargets(targets);
        if (message.length() > MAX_MESSAGE) {
            throw ControllerException.invalid("--message is " + message.length() + " characters, at most " + MAX_MESSAGE);
        }
        if (envelope.getSignaturesCount() == 0) {
            throw ControllerException.invalid("the manifest is unsigned: 0 signatures (sign it with `pinfleet sign`)");
        }
        Map<String, String> environments = new TreeMap<>();
        Set<String> envs = new HashSet<>();
        for (Target t : targets.getNodesList()) {
            if (!t.getEnvironment().isEmpty()) {
                environments.put("node " + t.getName(), t.getEnvironment());
                envs.add(t.getEnvironment());
            }
        }
        Manifest m;
        try {
            m = ManifestChecks.check(envelope, trust, clock.instant(), environments); // the agents' own checks
        } catch (ManifestException e) {
            throw ControllerException.invalid(e.getMessage());
        }
        String environment = !m.getEnvironment().isEmpty() ? m.getEnvironment() : envs.size() == 1 ? envs.iterator().next() : "";
        return new SubmissionCheck(m, ManifestCodec.contentDigest(m),
                envelope.getSignaturesList().stream().map(Signature::getKeyid).toList(), environment);
    }

    private static void checkTargets(Targets targets) {
        if (targets.getNodesCount() == 0) {
            throw ControllerException.invalid("no target nodes: the inventory and --limit selected none");
        }
        if (targets.getInventoryText().length() > MAX_INVENTORY_BYTES) {
            throw ControllerException.invalid("inventory " + targets.getInventory() + " is larger than "
                    + MAX_INVENTORY_BYTES + " bytes");
        }
        Set<String> names = new HashSet<>();
        for (Target t : targets.getNodesList()) {
            if (t.getName().isEmpty() || t.getHost().isEmpty() || t.getPort() < 1 || t.getPort() > 65535) {
                throw ControllerException.invalid("target '" + t.getName() + "' at " + t.getHost() + ":" + t.getPort()
                        + " needs a name, a host and a port 1-65535");
            }
            if (!names.add(t.getName())) {
                throw ControllerException.invalid("target " + t.getName() + " is listed twice");
            }
        }
    }
}

package dev.pinfleet.controller.keys;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.TrustPolicy;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The agent's own checks of a manifest, made by {@code pinfleet sign}, {@code verify} and {@code deploy} before they
 * sign, pass or push it, with the code the agent runs ({@link TrustPolicy#admit}, {@link ManifestCodec}): an operator
 * learns that a manifest is expired, invalid, badly signed or meant for another environment before any node does.
 */
public final class ManifestChecks {
    private ManifestChecks() {}

    /**
     * The manifest in {@code envelope}, checked as an agent checks it at {@code now}: with {@code trust}, its
     * signatures; always its size, fields and expiry; and its environment against each of {@code environments}
     * (who, e.g. "node web1" → that node's environment). The CLI's refusal: see {@link #admit}; the controller's,
     * which names no file: this.
     *
     * @param trust the trusted keys, or null to skip the signatures (no keys at hand)
     * @throws ManifestException naming the rule, then the next step where there is one
     */
    public static Manifest check(SignedManifest envelope, TrustPolicy trust, Instant now, Map<String, String> environments)
            throws ManifestException {
        Manifest m;
        try {
            m = trust != null ? trust.admit(envelope, now, null) : ManifestCodec.parse(envelope.getPayload().toByteArray());
            ManifestCodec.checkNotExpired(m, now); // done by admit already; here for the path without keys
        } catch (ManifestException e) {
            throw withNextStep(e);
        }
        Map<String, List<String>> wrong = new TreeMap<>();
        for (var e : environments.entrySet()) {
            try {
                ManifestCodec.checkEnvironment(m, e.getValue());
            } catch (ManifestException x) {
                wrong.computeIfAbsent(e.getValue(), k -> new ArrayList<>()).add(e.getKey());
            }
        }
        if (!wrong.isEmpty()) {
            StringBuilder why = new StringBuilder("manifest is bound to ").append(describe(m.getEnvironment()));
            wrong.forEach((env, who) -> why.append(", not ").append(describe(env)).append(" (")
                    .append(String.join(", ", who)).append(')'));
            throw withNextStep(new ManifestException(ManifestException.Reason.ENVIRONMENT, why.toString()));
        }
        return m;
    }

    /**
     * {@link #check} for the CLI, before it signs, passes or pushes {@code file}.
     *
     * @param file  the envelope's file, named in every refusal
     * @throws CliException naming the file, the rule and the next step
     */
    public static Manifest admit(Path file, SignedManifest envelope, TrustPolicy trust, Instant now,
            Map<String, String> environments) {
        try {
            return check(envelope, trust, now, environments);
        } catch (ManifestException e) {
            throw new CliException(file + ": " + e.getMessage());
        }
    }

    /** The operator-facing refusal of {@code file}: the rule's message, then the next step where there is one. */
    public static CliException refusal(Path file, ManifestException e) {
        return new CliException(file + ": " + withNextStep(e).getMessage());
    }

    private static ManifestException withNextStep(ManifestException e) {
        String next = switch (e.reason()) {
            case EXPIRED -> "; no agent accepts it: freeze the requirements again (pinfleet freeze … --expires-in 7d)"
                    + " and sign the new manifest";
            case ENVIRONMENT -> "; freeze it again with the nodes' --environment, or --limit the deploy to nodes of"
                    + " the manifest's environment";
            default -> "";
        };
        return new ManifestException(e.reason(), e.getMessage() + next);
    }

    /** "node NAME" → environment, for the nodes whose inventory gives one ({@link Node#ENVIRONMENT_VAR}). */
    public static Map<String, String> environments(List<Node> nodes) {
        Map<String, String> out = new TreeMap<>();
        for (Node n : nodes) {
            String e = n.vars().get(Node.ENVIRONMENT_VAR);
            if (e != null) {
                out.put("node " + n.name(), e);
            }
        }
        return out;
    }

    private static String describe(String environment) {
        return environment.isEmpty() ? "no environment" : "environment '" + environment + "'";
    }
}

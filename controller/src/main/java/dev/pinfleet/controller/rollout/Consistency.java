package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NodeReport;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Fleet consistency: every node that succeeded must report the manifest's release digest and, for every artifact,
 * the manifest's sha256 (and so the same values as every other successful node); a node whose outcome a resumed
 * rollout learned from its Status is checked by digest only. Each difference is one line naming the node(s).
 */
public final class Consistency {
    private Consistency() {}

    public static List<String> check(Manifest m, String digest, List<NodeReport> nodes) {
        List<String> out = new ArrayList<>();
        Map<String, String> want = new LinkedHashMap<>();
        for (Artifact a : m.getArtifactsList()) {
            want.put(a.getFilename(), a.getSha256());
        }
        Map<String, Map<String, List<String>>> seen = new TreeMap<>(); // filename -> sha256 -> nodes
        for (NodeReport n : nodes) {
            if (!Outcomes.isSuccess(n.getOutcome())) {
                continue;
            }
            if (!n.getReport().getManifestDigest().equals(digest)) {
                out.add(n.getNode() + ": release digest " + n.getReport().getManifestDigest() + " differs from the"
                        + " manifest's " + digest);
            }
            if (n.getReconciled()) {
                continue; // its per-artifact report went with the controller that started it; the digest says it all
            }
            Map<String, String> got = new LinkedHashMap<>();
            for (ArtifactResult a : n.getReport().getArtifactsList()) {
                got.put(a.getFilename(), a.getSha256());
                seen.computeIfAbsent(a.getFilename(), f -> new TreeMap<>())
                        .computeIfAbsent(a.getSha256(), s -> new ArrayList<>()).add(n.getNode());
            }
            for (Map.Entry<String, String> w : want.entrySet()) {
                String g = got.get(w.getKey());
                if (g == null) {
                    out.add(n.getNode() + ": artifact " + w.getKey() + " missing from its report");
                } else if (!g.equals(w.getValue())) {
                    out.add(n.getNode() + ": artifact " + w.getKey() + " sha256 " + g + " differs from the manifest's "
                            + w.getValue());
                }
            }
            for (String f : got.keySet()) {
                if (!want.containsKey(f)) {
                    out.add(n.getNode() + ": artifact " + f + " is not in the manifest");
                }
            }
        }
        for (Map.Entry<String, Map<String, List<String>>> e : seen.entrySet()) {
            if (e.getValue().size() > 1) {
                StringBuilder b = new StringBuilder("artifact " + e.getKey() + " differs between nodes:");
                e.getValue().forEach((sha, ns) -> b.append(" ").append(sha, 0, Math.min(16, sha.length()))
                        .append("… on ").append(String.join(",", ns)).append(";"));
                out.add(b.substring(0, b.length() - 1));
            }
        }
        return out;
    }
}

package dev.pinfleet.mirror.audit;

import java.util.List;

/**
 * What {@link MirrorVerifier} checked and found.
 *
 * @param filesChecked regular files under {@code packages/} that were hashed
 * @param auditRecords valid audit lines read
 * @param findings     the problems, grouped by kind in {@link Finding.Kind} order, then by path
 */
public record VerifyReport(int filesChecked, int auditRecords, List<Finding> findings) {

    public VerifyReport {
        findings = List.copyOf(findings);
    }

    /** True when nothing was found. */
    public boolean ok() {
        return findings.isEmpty();
    }

    /** How many findings are of {@code kind}. */
    public long count(Finding.Kind kind) {
        return findings.stream().filter(f -> f.kind() == kind).count();
    }
}

package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Outcome;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The label values of {@code pinfleet_deploy_failures_total{reason}} come from the report's typed reason alone (the
 * error text plays no part); the ones {@link AgentMetricsTest} provokes for real are checked there.
 */
class FailureLabelTest {
    private static DeployReport failed(FailureReason reason, String error) {
        return DeployReport.newBuilder().setOutcome(Outcome.FAILED).setReason(reason).setError(error).build();
    }

    @Test
    void everyReasonHasALabelAndTheLabelValuesStayTheDashboardsOnes() {
        Set<String> used = new HashSet<>();
        for (FailureReason r : FailureReason.values()) {
            if (r != FailureReason.UNRECOGNIZED) {
                FailureLabel l = FailureLabel.of(failed(r, ""));
                assertNotNull(l, r.name());
                used.add(l.tag());
            }
        }
        assertEquals(Set.of("aborted", "cancelled", "verify/signature", "verify/serial", "verify/expired",
                "verify/environment", "verify/python", "verify/manifest", "plan", "fetch/checksum", "fetch/size",
                "fetch/not-found", "fetch/unreachable", "fetch/other", "install", "switch", "hook", "health", "other"),
                used);
    }

    @Test
    void theReasonDecidesNotTheWords() {
        assertEquals(FailureLabel.FETCH_UNREACHABLE, FailureLabel.of(failed(FailureReason.REASON_FETCH_TIMEOUT,
                "node n1: a.whl: checksum mismatch")), "text that looks like another failure changes nothing");
        assertEquals(FailureLabel.FETCH_UNREACHABLE, FailureLabel.of(FailureReason.REASON_FETCH_UNAVAILABLE));
        assertEquals(FailureLabel.FETCH_UNREACHABLE, FailureLabel.of(FailureReason.REASON_FETCH_UNREACHABLE));
        assertEquals(FailureLabel.FETCH_OTHER, FailureLabel.of(FailureReason.REASON_FETCH_REDIRECT));
        assertEquals(FailureLabel.FETCH_OTHER, FailureLabel.of(FailureReason.REASON_FETCH_HTTP_STATUS));
        assertEquals(FailureLabel.INSTALL, FailureLabel.of(FailureReason.REASON_INSTALL_CONFLICT));
        assertEquals(FailureLabel.PLAN, FailureLabel.of(FailureReason.REASON_PLAN_UNSAFE_ROOT));
        assertEquals(FailureLabel.ABORTED, FailureLabel.of(failed(FailureReason.REASON_ABORTED, "fetch/checksum")));
        assertEquals(FailureLabel.HEALTH, FailureLabel.of(DeployReport.newBuilder().setOutcome(Outcome.REVERTED)
                .setReason(FailureReason.REASON_HEALTH_FAILED).setError("node n1: release x reverted").build()));
        assertEquals(FailureLabel.OTHER, FailureLabel.of(failed(FailureReason.REASON_UNSPECIFIED, "checksum mismatch")),
                "a failed report without a reason is 'other', whatever it says");
    }

    @Test
    void successesHaveNoLabelAndTagsAreDistinct() {
        assertNull(FailureLabel.of(DeployReport.newBuilder().setOutcome(Outcome.OK).build()));
        assertNull(FailureLabel.of(DeployReport.newBuilder().setOutcome(Outcome.UNCHANGED).build()));
        Set<String> tags = new HashSet<>();
        for (FailureLabel r : FailureLabel.values()) {
            assertTrue(tags.add(r.tag()), r.tag());
        }
    }
}

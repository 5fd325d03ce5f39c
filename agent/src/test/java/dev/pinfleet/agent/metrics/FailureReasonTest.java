package dev.pinfleet.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The reasons {@link AgentMetricsTest} cannot provoke quickly, from the agent's message formats (the head
 * {@code cannot fetch F (sha256 …) from its mirror in N tries: URL: REASON (N tries)} of ArtifactFetch and the
 * reasons of HttpDownload); the others are checked against real deploys there.
 */
class FailureReasonTest {
    private static DeployReport failed(Phase phase, String error) {
        return DeployReport.newBuilder().setOutcome(Outcome.FAILED).setFailedPhase(phase).setError("node n1: " + error)
                .build();
    }

    private static String fetch(String reason) {
        return "cannot fetch a-1.0-py3-none-any.whl (sha256 " + "ab".repeat(32) + ", 10 bytes) from its mirror in 3 tries:"
                + " http://127.0.0.1:9/a-1.0-py3-none-any.whl: " + reason + " (3 tries)";
    }

    @Test
    void unreachableMirrorsAreOneReason() {
        for (String r : new String[] {"cannot connect to 127.0.0.1:9: Connection refused",
            "timed out: no connection within the connect timeout of 10 s",
            "timed out: no byte from the mirror for 30 s (5 of 10 bytes received)",
            "connection lost after 5 of 10 bytes: Connection reset", "request failed: EOF", "HTTP 503", "HTTP 429"}) {
            assertEquals(FailureReason.FETCH_UNREACHABLE, FailureReason.of(failed(Phase.FETCH, fetch(r))), r);
        }
    }

    @Test
    void otherFetchFailuresAreNotUnreachable() {
        assertEquals(FailureReason.FETCH_OTHER, FailureReason.of(failed(Phase.FETCH,
                fetch("HTTP 302 redirect to http://elsewhere/ refused: redirects are never followed"))));
        assertEquals(FailureReason.FETCH_OTHER, FailureReason.of(failed(Phase.FETCH, fetch("HTTP 403"))));
        assertEquals(FailureReason.FETCH_SIZE, FailureReason.of(failed(Phase.FETCH,
                fetch("body ended after 5 bytes where 10 were expected"))));
    }

    @Test
    void abortWinsOverThePhaseAndSwitchBacksCountByTheirPhase() {
        assertEquals(FailureReason.ABORTED, FailureReason.of(failed(Phase.FETCH,
                "aborted: agent shutting down: the deploy did not finish within shutdown-seconds=30")));
        assertEquals(FailureReason.HEALTH, FailureReason.of(DeployReport.newBuilder().setOutcome(Outcome.REVERTED)
                .setFailedPhase(Phase.HEALTH).setError("node n1: release x reverted").build()));
        assertEquals(FailureReason.INSTALL, FailureReason.of(failed(Phase.INSTALL, "wheel a.whl: bad RECORD")));
        assertEquals(FailureReason.VERIFY_PYTHON, FailureReason.of(failed(Phase.VERIFY,
                "manifest targets Python 3.12 but this node's interpreter python3 is Python 3.11")));
        assertEquals(FailureReason.VERIFY_MANIFEST, FailureReason.of(failed(Phase.VERIFY, "artifact 3: path is absolute")));
        assertEquals(FailureReason.OTHER, FailureReason.of(failed(Phase.PHASE_UNSPECIFIED, "?")));
    }

    @Test
    void successesHaveNoReasonAndTagsAreDistinct() {
        assertNull(FailureReason.of(DeployReport.newBuilder().setOutcome(Outcome.OK).build()));
        assertNull(FailureReason.of(DeployReport.newBuilder().setOutcome(Outcome.UNCHANGED).build()));
        Set<String> tags = new HashSet<>();
        for (FailureReason r : FailureReason.values()) {
            assertEquals(true, tags.add(r.tag()), r.tag());
        }
    }
}

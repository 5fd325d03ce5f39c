package dev.pinfleet.controller.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.controller.store.Outcomes;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeOutcome;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Source;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The typed failure reason of an agent's report, as the operator sees it in the table and in the JSON. */
class ReportTableTest {
    private static final NodeReport FAILED = NodeReport.newBuilder().setNode("web2").setOutcome(NodeOutcome.NODE_FAILED)
            .setError("web2: fetch: node web2: a-1.0-py3-none-any.whl: checksum mismatch")
            .setReport(DeployReport.newBuilder().setOutcome(Outcome.FAILED).setReason(FailureReason.REASON_FETCH_CHECKSUM)
                    .addArtifacts(ArtifactResult.newBuilder().setFilename("b-1.0-py3-none-any.whl")
                            .setSource(Source.MIRROR).setBytes(2048)))
            .build();
    private static final NodeReport OK = NodeReport.newBuilder().setNode("web1").setOutcome(NodeOutcome.NODE_OK)
            .setReport(DeployReport.newBuilder().setOutcome(Outcome.OK).setRelease("0123456789abcdef")).build();

    @Test
    void theTableHasAReasonColumn() {
        StringWriter s = new StringWriter();
        ReportTable.print(FleetReport.newBuilder().setApp("shop").addNodes(OK).addNodes(FAILED).build(),
                new PrintWriter(s));
        String[] lines = s.toString().split("\n");
        assertTrue(lines[0].matches("NODE +OUTCOME +FETCHED +FROM STORE +BYTES +MS +REASON +RELEASE / ERROR"), lines[0]);
        assertTrue(lines[1].matches("web1 +ok +0 +0 +0 B +0 +- +0123456789abcdef"), lines[1]);
        assertTrue(lines[2].matches("web2 +FAILED +1 +0 +2\\.0 KiB +0 +fetch/checksum +web2: fetch: .*"), lines[2]);
    }

    @Test
    void whatTheControllerSawIsReadFromTheCauseNeverFromTheErrorsWords() {
        NodeReport dropped = NodeReport.newBuilder().setNode("web3").setOutcome(NodeOutcome.NODE_FAILED)
                .setCause(Outcomes.DROPPED).setError("web3 (127.0.0.1:7400): the agent went away").build();
        NodeReport worded = NodeReport.newBuilder().setNode("web4").setOutcome(NodeOutcome.NODE_FAILED)
                .setError("web4: connection dropped mid-deploy, node deadline, interrupted").build();
        NodeReport skipped = NodeReport.newBuilder().setNode("web5").setOutcome(NodeOutcome.NODE_SKIPPED).build();
        assertEquals("dropped", Outcomes.reason(dropped));
        assertEquals("failed", Outcomes.reason(worded));
        assertEquals("skipped", Outcomes.reason(skipped));
        assertEquals("", Outcomes.reason(OK));
        StringWriter s = new StringWriter();
        ReportTable.print(FleetReport.newBuilder().setApp("shop").addNodes(dropped).build(), new PrintWriter(s));
        assertTrue(s.toString().lines().anyMatch(l -> l.matches("web3 +FAILED .* dropped +web3 \\(127.*")), s.toString());
    }

    @Test
    void withNoNodeSucceededTheSummaryClaimsNoConsistency() {
        StringWriter s = new StringWriter();
        ReportTable.print(FleetReport.newBuilder().setApp("shop").addNodes(FAILED).build(), new PrintWriter(s));
        assertTrue(s.toString().contains("fleet consistency: not checked, no node succeeded\n"), s.toString());
        assertTrue(!s.toString().contains("every successful node"), s.toString());
        StringWriter t = new StringWriter();
        ReportTable.print(FleetReport.newBuilder().setApp("shop").addNodes(OK).addNodes(FAILED).build(), new PrintWriter(t));
        assertTrue(t.toString().contains("fleet consistency: every successful node reports"), t.toString());
    }

    @Test
    void reasonsReadAsPhaseSlashCause() {
        assertEquals("fetch/not-found", ReportTable.reason(FailureReason.REASON_FETCH_NOT_FOUND));
        assertEquals("verify/signature", ReportTable.reason(FailureReason.REASON_VERIFY_SIGNATURE));
        assertEquals("install/local-io", ReportTable.reason(FailureReason.REASON_INSTALL_LOCAL_IO));
        assertEquals("cancelled", ReportTable.reason(FailureReason.REASON_CANCELLED));
        assertEquals("-", ReportTable.reason(FailureReason.REASON_UNSPECIFIED));
    }

    @Test
    void jsonEventsAndTheReportCarryTheTypedReason() throws Exception {
        StringWriter s = new StringWriter();
        JsonProgress json = new JsonProgress(new PrintWriter(s), Clock.fixed(Instant.EPOCH, ZoneOffset.UTC));
        json.nodeFinished(FAILED);
        assertTrue(s.toString().contains("\"reason\":\"REASON_FETCH_CHECKSUM\""), s.toString());
        assertTrue(JsonFormat.printer().print(FleetReport.newBuilder().addNodes(FAILED).build())
                .contains("\"reason\": \"REASON_FETCH_CHECKSUM\""), "the report file");
    }
}

package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.state.DeployRecord;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.PhaseTiming;
import dev.pinfleet.proto.v1.Source;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One deploy as it runs: its request, the phase it is in (and the wall time of those it went through), the report
 * being built with one result per artifact, and its event stream. Owned by the deploy's thread; check results may
 * arrive from a hook's or health check's reader thread ({@link #check}).
 */
final class DeployRun {
    private final DeployRequest request;
    private final Ticker events;
    private final StopGate gate;
    private final Clock clock;
    private final long start;
    private final DeployReport.Builder report = DeployReport.newBuilder();
    private final Map<String, ArtifactResult.Builder> results = new LinkedHashMap<>();
    private Phase phase;
    private long phaseStart;
    private VerifyStep.Baseline baseline;

    DeployRun(DeployRequest request, Ticker events, StopGate gate, Clock clock) {
        this.request = request;
        this.events = events;
        this.gate = gate;
        this.clock = clock;
        this.start = clock.millis();
    }

    DeployRequest request() {
        return request;
    }

    Ticker events() {
        return events;
    }

    DeployReport.Builder report() {
        return report;
    }

    /** The phase the deploy is in; VERIFY before any began. */
    Phase phase() {
        return phase == null ? Phase.VERIFY : phase;
    }

    /**
     * Phase {@code p} begins, working on {@code artifacts} artifacts: the previous phase's wall time goes into the
     * report and a phase_started event out. A stop requested before the switch ends the deploy here
     * ({@link StopGate#begin}).
     */
    void begin(Phase p, int artifacts) throws DeployFailure {
        gate.begin(p);
        endPhase();
        phase = p;
        phaseStart = clock.millis();
        events.phase(p, artifacts);
        emit(DeployEvent.newBuilder().setPhaseStarted(p));
    }

    private void endPhase() {
        if (phase != null) {
            report.addPhases(PhaseTiming.newBuilder().setPhase(phase).setMillis(clock.millis() - phaseStart));
        }
    }

    /** Sends an event stamped with the agent's clock. */
    void emit(DeployEvent.Builder e) {
        events.accept(e.setAtUnixMs(clock.millis()).build());
    }

    /** A hook or health-check run finished: into the report, and out as an event. */
    void check(CheckResult r) {
        synchronized (report) {
            report.addChecks(r);
        }
        emit(DeployEvent.newBuilder().setCheck(r));
    }

    /** The manifest is verified: the report names it, and each of its artifacts gets a result row. */
    void verified(VerifyStep.Verified v) {
        report.setApp(v.app()).setSerial(v.manifest().getSerial()).setManifestDigest(v.digest())
                .setRelease(v.release());
        for (Artifact a : v.manifest().getArtifactsList()) {
            results.put(a.getFilename(), ArtifactResult.newBuilder().setFilename(a.getFilename()));
        }
    }

    /** Where the app stands; from here on a failure is recorded in the app's state. */
    void baseline(VerifyStep.Baseline b) {
        this.baseline = b;
        report.setPreviousRelease(b.current() == null ? "" : b.current());
    }

    /** Null until {@link #baseline(VerifyStep.Baseline)}. */
    VerifyStep.Baseline baseline() {
        return baseline;
    }

    /** The result row of an artifact of the manifest. */
    ArtifactResult.Builder result(String filename) {
        return results.get(filename);
    }

    /** The artifacts' rows go into the report. */
    void reportArtifacts() {
        report.clearArtifacts();
        results.values().forEach(report::addArtifacts);
    }

    /**
     * A failed deploy's report lists what it did bring into the store (downloaded, or found there), with the install
     * times of those it installed: the rows of the artifacts whose fetch ended well.
     */
    synchronized void reportArtifactsFetched() {
        report.clearArtifacts();
        results.values().stream().filter(r -> r.getSource() != Source.SOURCE_UNSPECIFIED)
                .forEach(report::addArtifacts);
    }

    /**
     * This deploy as the app's state records it: its id, serial, release and the release it replaces, when it began
     * and (when {@code ended}) ended, how, why.
     */
    DeployRecord attempt(Outcome outcome, FailureReason reason, String error, boolean ended) {
        return DeployRecord.newBuilder().setDeployId(request.getDeployId()).setSerial(report.getSerial())
                .setRelease(report.getRelease()).setPreviousRelease(report.getPreviousRelease()).setOutcome(outcome)
                .setReason(reason).setError(error).setStartedUnixMs(start).setEndedUnixMs(ended ? clock.millis() : 0)
                .build();
    }

    /** The report, with the last phase's and the whole deploy's wall time. */
    DeployReport finish() {
        endPhase();
        phase = null;
        return report.setTotalMs(clock.millis() - start).build();
    }
}

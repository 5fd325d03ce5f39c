package dev.pinfleet.agent.deploy;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.AgentConfig;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fetch.FetchException;
import dev.pinfleet.agent.fetch.FetchResult;
import dev.pinfleet.agent.fetch.Fetcher;
import dev.pinfleet.agent.fs.Durable;
import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.agent.install.InstallResult;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.PhaseTiming;
import dev.pinfleet.proto.v1.Source;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One node deploy, step by step: verify, plan, fetch, install, switch. Each step is idempotent;
 * any failure leaves `current` where it was and nothing half-written behind.
 */
public final class DeployEngine {
    private static final Logger LOG = Logger.getLogger(DeployEngine.class.getName());

    private final AgentConfig config;
    private final TrustPolicy trust;
    private final PythonInfo python;
    private final ContentStore store;
    private final Fetcher fetcher;
    private final ReleaseBuilder builder;
    private final Releases releases;
    private final Clock clock;
    private final AtomicBoolean busy = new AtomicBoolean();

    public DeployEngine(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store, Fetcher fetcher,
            ReleaseBuilder builder, Clock clock) {
        this.config = config;
        this.trust = trust;
        this.python = python;
        this.store = store;
        this.fetcher = fetcher;
        this.builder = builder;
        this.releases = new Releases(config.root(), config.keepReleases(), store, builder);
        this.clock = clock;
    }

    /** Cleans what a crash may have left: temp downloads, half-built releases; reconciles state with `current`. */
    public void recover() throws IOException {
        store.cleanTemp();
        releases.recover();
    }

    public boolean busy() {
        return busy.get();
    }

    /** Thrown when a deploy is already running on this agent. */
    public static final class BusyException extends Exception {
        private static final long serialVersionUID = 1L;

        BusyException(String message) {
            super(message);
        }
    }

    /** Runs one deploy, streaming events; the returned report is also sent as the last event. */
    public DeployReport deploy(DeployRequest request, Consumer<DeployEvent> events) throws BusyException {
        if (!busy.compareAndSet(false, true)) {
            throw new BusyException("node " + config.node() + " is already running a deploy; one at a time per agent");
        }
        try {
            DeployReport report = run(request, events);
            events.accept(DeployEvent.newBuilder().setReport(report).setAtUnixMs(clock.millis()).build());
            return report;
        } finally {
            busy.set(false);
        }
    }

    private DeployReport run(DeployRequest request, Consumer<DeployEvent> events) {
        long start = clock.millis();
        DeployReport.Builder report = DeployReport.newBuilder();
        Map<Phase, Long> phaseStart = new LinkedHashMap<>();
        Phase[] phase = {Phase.VERIFY};
        Consumer<Phase> begin = p -> {
            Long prev = phaseStart.get(phase[0]);
            if (prev != null) {
                report.addPhases(PhaseTiming.newBuilder().setPhase(phase[0]).setMillis(clock.millis() - prev));
            }
            phase[0] = p;
            phaseStart.put(p, clock.millis());
            events.accept(DeployEvent.newBuilder().setPhaseStarted(p).setAtUnixMs(clock.millis()).build());
        };
        AppLayout layout = null;
        try {
            begin.accept(Phase.VERIFY);
            Manifest m = verify(request);
            String digest = ManifestCodec.contentDigest(m);
            String id = ManifestCodec.releaseId(digest);
            report.setApp(m.getApp()).setSerial(m.getSerial()).setManifestDigest(digest).setRelease(id);
            layout = AppLayout.of(config.root(), m.getApp());
            AppStatus state = StateStore.read(layout, m.getApp());
            String previous = releases.currentRelease(layout);
            boolean sameAgain = m.getSerial() == state.getSerial() && digest.equals(state.getManifestDigest())
                    && id.equals(previous);
            if (m.getSerial() <= state.getSerial() && !sameAgain) {
                throw new DeployFailure(Phase.VERIFY, "manifest serial " + m.getSerial() + " for app " + m.getApp()
                        + " is not greater than the last applied serial " + state.getSerial()
                        + " (replay or stale manifest refused)", null);
            }
            report.setPreviousRelease(previous == null ? "" : previous);

            begin.accept(Phase.PLAN);
            boolean unchanged = id.equals(previous);
            boolean onDisk = Files.isDirectory(layout.release(id), LinkOption.NOFOLLOW_LINKS);
            Map<String, ArtifactResult.Builder> results = new LinkedHashMap<>();
            for (Artifact a : m.getArtifactsList()) {
                results.put(a.getFilename(), ArtifactResult.newBuilder().setFilename(a.getFilename()));
            }

            begin.accept(Phase.FETCH);
            List<Artifact> needed = onDisk ? List.of() : m.getArtifactsList();
            List<FetchResult> fetched = fetcher.fetchAll(needed, r -> {
                ArtifactResult ar = toResult(r);
                events.accept(DeployEvent.newBuilder().setArtifact(ar).setAtUnixMs(clock.millis()).build());
            });
            for (FetchResult r : fetched) {
                results.get(r.filename()).mergeFrom(toResult(r));
            }
            if (onDisk) {
                for (Artifact a : m.getArtifactsList()) {
                    results.get(a.getFilename()).setSha256(a.getSha256()).setBytes(a.getSize()).setSource(Source.STORE);
                }
            }

            begin.accept(Phase.INSTALL);
            if (!onDisk) {
                Path staging = layout.staging(id);
                Durable.deleteTree(staging);
                Files.createDirectories(layout.releases());
                List<InstallResult> installed = builder.build(staging, layout.release(id), m,
                        sha -> store.path(sha), r -> { });
                for (InstallResult r : installed) {
                    results.get(r.filename()).setInstallMs(r.installMillis());
                }
                    releases.writeManifest(staging, request.getManifest());
                Durable.renameDirectory(staging, layout.release(id));
                Durable.fsyncDirectory(layout.releases());
            }

            begin.accept(Phase.SWITCH);
            AppStatus.Builder next = state.toBuilder().setApp(m.getApp()).setSerial(m.getSerial())
                    .setRelease(id).setManifestDigest(digest).setLastError("")
                    .setLastOutcome(unchanged ? Outcome.UNCHANGED : Outcome.OK);
            // The serial is persisted before any effect: a crash after this line never allows a replay.
            StateStore.write(layout, next.build());
            if (!unchanged) {
                releases.switchTo(layout, id);
            }
            if (!unchanged) {
                releases.collectGarbage(layout, id, previous);
            }
            StateStore.write(layout, next.clearReleases().addAllReleases(releases.list(layout)).build());
            for (ArtifactResult.Builder r : results.values()) {
                report.addArtifacts(r);
            }
            report.setOutcome(unchanged ? Outcome.UNCHANGED : Outcome.OK);
        } catch (DeployFailure f) {
            fail(report, layout, f.phase(), f.getMessage());
        } catch (FetchException e) {
            fail(report, layout, Phase.FETCH, e.getMessage());
        } catch (InstallException e) {
            fail(report, layout, Phase.INSTALL, e.getMessage());
        } catch (IOException | RuntimeException e) {
            LOG.log(java.util.logging.Level.WARNING, "deploy failed in " + phase[0], e);
            fail(report, layout, phase[0], e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(report, layout, phase[0], "deploy aborted: agent is shutting down");
        }
        Long prev = phaseStart.get(phase[0]);
        if (prev != null) {
            report.addPhases(PhaseTiming.newBuilder().setPhase(phase[0]).setMillis(clock.millis() - prev));
        }
        return report.setTotalMs(clock.millis() - start).build();
    }

    private void fail(DeployReport.Builder report, AppLayout layout, Phase phase, String why) {
        String error = "node " + config.node() + ": " + why;
        report.setOutcome(Outcome.FAILED).setFailedPhase(phase).setError(error).clearArtifacts();
        LOG.warning("deploy refused: " + error);
        if (layout != null && report.getSerial() > 0) {
            try {
                Durable.deleteTree(layout.staging(report.getRelease()));
                AppStatus s = StateStore.read(layout, report.getApp());
                if (Files.isDirectory(layout.dir())) {
                    StateStore.write(layout, s.toBuilder().setLastOutcome(Outcome.FAILED).setLastError(error).build());
                }
            } catch (IOException e) {
                LOG.warning("could not record the failure: " + e.getMessage());
            }
        }
    }

    private Manifest verify(DeployRequest request) throws DeployFailure {
        Manifest m;
        try {
            m = ManifestCodec.parse(trust.verify(request.getManifest()));
        } catch (ManifestException e) {
            throw new DeployFailure(Phase.VERIFY, e.getMessage(), e);
        }
        long now = clock.millis();
        if (Timestamps.toMillis(m.getExpires()) <= now) {
            throw new DeployFailure(Phase.VERIFY, "manifest for app " + m.getApp() + " serial " + m.getSerial()
                    + " expired at " + Timestamps.toString(m.getExpires()), null);
        }
        if (!m.getEnvironment().equals(config.environment())) {
            throw new DeployFailure(Phase.VERIFY, "manifest is bound to environment '" + m.getEnvironment()
                    + "' but this node is in environment '" + config.environment() + "'", null);
        }
        if (!m.getPython().equals(python.version())) {
            throw new DeployFailure(Phase.VERIFY, "manifest targets Python " + m.getPython() + " but this node's "
                    + "interpreter " + python.executable() + " is Python " + python.version(), null);
        }
        return m;
    }

    private static ArtifactResult toResult(FetchResult r) {
        return r.toProto();
    }

    /** Status of every app (or one). */
    public List<AppStatus> status(String onlyApp) throws IOException {
        List<AppStatus> out = new ArrayList<>();
        for (String app : releases.apps()) {
            if (onlyApp.isEmpty() || onlyApp.equals(app)) {
                AppLayout layout = AppLayout.of(config.root(), app);
                AppStatus s = StateStore.read(layout, app);
                String cur = releases.currentRelease(layout);
                out.add(s.toBuilder().setRelease(cur == null ? "" : cur).clearReleases()
                        .addAllReleases(releases.list(layout)).build());
            }
        }
        return out;
    }
}

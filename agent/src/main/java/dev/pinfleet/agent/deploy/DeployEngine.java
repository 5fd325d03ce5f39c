package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fetch.FetchException;
import dev.pinfleet.agent.fetch.Fetcher;
import dev.pinfleet.agent.fetch.Sleeper;
import dev.pinfleet.agent.hooks.PostSwitch;
import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.CancelResponse;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.trust.TrustPolicy;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One node deploy as a sequence of steps (see the package comment for the phases and the stop and revert paths):
 * {@link VerifyStep}, {@link PlanStep}, {@link FetchStep}, {@link InstallStep}, {@link SwitchStep},
 * {@link PostSwitchStep}, then the clean-up ({@link Releases#collectGarbage}) and the report. Any failure leaves
 * `current` where it was and nothing half-written behind. Also answers plan (the same decisions, nothing done),
 * status and the signed manifest of a kept release (for rollbacks).
 */
public final class DeployEngine {
    private static final Logger LOG = Logger.getLogger(DeployEngine.class.getName());
    /** How often a running deploy may send a {@link dev.pinfleet.proto.v1.Progress} event. */
    public static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(1);
    /** Start of the error of a deploy aborted because the agent is shutting down. */
    public static final String ABORTED = "aborted: agent shutting down";

    private final AgentConfig config;
    private final ContentStore store;
    private final Releases releases;
    private final Clock clock;
    private final StopGate gate = new StopGate();
    private final VerifyStep verify;
    private final PlanStep plan;
    private final FetchStep fetch;
    private final InstallStep install;
    private final SwitchStep switcher;
    private final PostSwitchStep postSwitch;
    private final AppQueries queries;
    private final Recovery recovery;
    private final Failures failures;
    private final ScheduledExecutorService heartbeat;
    /** Whether {@link #close} stops {@link #heartbeat} (not when it is shared by a simulated fleet). */
    private final boolean ownsHeartbeat;
    /** Null on a real node; see {@link StandIn}. */
    private final StandIn standIn;
    private volatile Consumer<DeployReport> onReport = r -> { };
    private volatile Runnable onRefused = () -> { };

    public DeployEngine(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store, Fetcher fetcher,
            ReleaseBuilder builder, Clock clock) {
        this(config, trust, python, store, fetcher, builder, clock, Sleeper.system());
    }

    /** With an injected {@link Sleeper} for the waits between health-check attempts. */
    public DeployEngine(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store, Fetcher fetcher,
            ReleaseBuilder builder, Clock clock, Sleeper sleeper) {
        this(config, trust, python, store, fetcher, builder, clock, sleeper,
                Executors.newSingleThreadScheduledExecutor(new DaemonThreads("deploy-progress")), true, null);
    }

    /**
     * A simulated node's engine (the fleet simulator's hollow node): {@code standIn} replaces the downloads and the
     * build (nothing is fetched, no mirror is contacted), and the progress events of its deploys are timed on
     * {@code heartbeat}, shared by every node of the simulated fleet and left running by {@link #close}.
     */
    public static DeployEngine simulated(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store,
            ReleaseBuilder builder, Clock clock, ScheduledExecutorService heartbeat, StandIn standIn) {
        return new DeployEngine(config, trust, python, store, null, builder, clock, Sleeper.system(), heartbeat, false,
                java.util.Objects.requireNonNull(standIn, "standIn"));
    }

    private DeployEngine(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store, Fetcher fetcher,
            ReleaseBuilder builder, Clock clock, Sleeper sleeper, ScheduledExecutorService heartbeat,
            boolean ownsHeartbeat, StandIn standIn) {
        this.config = config;
        this.heartbeat = heartbeat;
        this.ownsHeartbeat = ownsHeartbeat;
        this.standIn = standIn;
        this.store = store;
        this.clock = clock;
        // crash tests' seam; a no-op unless the JVM runs with -D{@value HaltPoint#PROPERTY}
        HaltPoint halt = HaltPoint.fromSystemProperties();
        this.releases = new Releases(config.root(), config.keepReleases(), config.storeMaxBytes(), store, builder, clock,
                halt);
        PostSwitch hooks = new PostSwitch(clock, sleeper);
        Map<String, CheckResult> health = new ConcurrentHashMap<>();
        this.verify = new VerifyStep(config.node(), config.root(), config.environment(), trust, python, releases, clock);
        this.plan = new PlanStep(store, releases);
        this.fetch = new FetchStep(fetcher);
        this.install = new InstallStep(config.node(), store, builder, releases, halt, standIn);
        this.switcher = new SwitchStep(releases, halt);
        this.postSwitch = new PostSwitchStep(config.node(), hooks, releases, health);
        this.queries = new AppQueries(config.node(), config.root(), releases, hooks, health, verify, plan);
        this.recovery = new Recovery(config.node(), config.root(), store, builder, releases);
        this.failures = new Failures(config.node(), config.root(), store.tmpDir(), gate, install);
    }

    /**
     * Cleans what a crash may have left: temp downloads, half-built releases, the trash (in the background);
     * reconciles state with `current` (see {@link Recovery}).
     */
    public void recover() throws IOException {
        recovery.run();
    }

    /** Waits at most {@code timeout} until removed releases are deleted from the trash; true when they are. */
    public boolean awaitTrashEmptied(Duration timeout) throws InterruptedException {
        return releases.awaitTrashEmptied(timeout);
    }

    public boolean busy() {
        return gate.busy();
    }

    /** Hands the report of every finished deploy to {@code listener} (metrics); it must be quick. */
    public void onReport(Consumer<DeployReport> listener) {
        this.onReport = listener;
    }

    /** Runs {@code listener} (metrics) for every deploy refused because another one was running; it must be quick. */
    public void onRefused(Runnable listener) {
        this.onRefused = listener;
    }

    /**
     * Shutdown: the running deploy (and any later one) ends before it switches, with error {@value #ABORTED} and
     * `current` unchanged (see {@link StopGate}).
     */
    public void abort() {
        gate.shutdown(new StopGate.Stop(FailureReason.REASON_ABORTED, ABORTED + ": the deploy did not finish within"
                + " shutdown-seconds=" + config.shutdownSeconds()));
    }

    /**
     * A Cancel call: stops deploy {@code deployId} before its switch; it then ends FAILED with reason CANCELLED and an
     * error naming {@code caller} (as its certificate names it) and {@code reason}. Answers at once (see
     * {@link StopGate#cancel}).
     *
     * @throws IllegalArgumentException for an empty deploy id or a reason over 1024 characters
     */
    public CancelResponse cancel(String deployId, String caller, String reason) {
        return gate.cancel(config.node(), deployId, caller, reason);
    }

    /** Waits until no deploy runs, at most {@code timeout}; true when none runs. */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        return gate.awaitIdle(timeout);
    }

    /** Thrown when a deploy is already running on this agent. */
    public static final class BusyException extends Exception {
        private static final long serialVersionUID = 1L;

        BusyException(String message) {
            super(message);
        }
    }

    /** Thrown when a release asked for is not on this node. */
    public static final class NotFoundException extends Exception {
        private static final long serialVersionUID = 1L;

        NotFoundException(String message) {
            super(message);
        }
    }

    /**
     * Deletes the releases the last garbage collection moved into the trash, on a background thread: call it once the
     * deploy's report is on its way to the caller (off the deploy's path, and so that a crash while deleting never
     * costs the report).
     */
    public void emptyTrash() {
        releases.emptyTrash();
    }

    /**
     * Runs one deploy, streaming events; the returned report is also sent as the last event. The caller then calls
     * {@link #emptyTrash}.
     */
    public DeployReport deploy(DeployRequest request, Consumer<DeployEvent> events) throws BusyException {
        if (!gate.enter(request.getDeployId())) {
            onRefused.run();
            throw new BusyException("node " + config.node() + " is already running a deploy; one at a time per agent");
        }
        Ticker ticker = new Ticker(events, clock, store.tmpDir());
        ScheduledFuture<?> tick = heartbeat.scheduleAtFixedRate(ticker::tick, PROGRESS_INTERVAL.toMillis(),
                PROGRESS_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        try {
            DeployRun run = new DeployRun(request, ticker, gate, clock);
            run(run);
            DeployReport report = run.finish();
            LOG.info("deploy '" + request.getDeployId() + "' of app " + report.getApp() + " serial " + report.getSerial()
                    + " release " + report.getRelease() + " ended " + report.getOutcome() + " in " + report.getTotalMs()
                    + " ms");
            try {
                onReport.accept(report);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "report listener failed", e);
            }
            tick.cancel(false);
            ticker.stop();
            events.accept(DeployEvent.newBuilder().setReport(report).setAtUnixMs(clock.millis()).build());
            return report;
        } finally {
            tick.cancel(false);
            ticker.stop();
            gate.leave();
        }
    }

    private void run(DeployRun run) {
        try {
            run.begin(Phase.VERIFY, 0);
            VerifyStep.Verified v = verify.verify(run.request().getManifest());
            run.verified(v);
            VerifyStep.Baseline b = verify.baseline(v);
            run.baseline(b);
            VerifyStep.checkSerial(b);

            run.begin(Phase.PLAN, v.manifest().getArtifactsCount());
            PlanStep.checkWritable(b);
            PlanStep.DeployPlan p = plan.decide(b);
            if (p.resumeChecks()) {
                LOG.warning("app " + v.app() + ": release " + p.release() + " is current, but the agent stopped before"
                        + " its hook and health check ran; running them now");
                run.report().setPreviousRelease(p.revertTo() == null ? "" : p.revertTo());
            }

            run.begin(Phase.FETCH, p.needed().size());
            if (standIn == null) {
                fetch.run(p, run);
            } else {
                FetchStep.simulate(run);
            }

            run.begin(Phase.INSTALL, p.needed().size());
            install.run(p, run);

            run.begin(Phase.SWITCH, 0);
            AppState.Builder next = switcher.run(p, run);
            if (p.runsChecks()) {
                PostSwitchStep.Failed failed = postSwitch.run(run);
                if (failed != null) {
                    postSwitch.revert(failed, p, next, run);
                    return;
                }
                releases.collectGarbage(b.layout(), p.release(), p.revertTo());
            }
            switcher.settle(p, next, run);
        } catch (DeployFailure | IOException | InstallException | FetchException | InterruptedException
                | RuntimeException e) {
            failures.fail(run, e);
        }
    }

    /**
     * What {@link #deploy} would do with this envelope, decided by the same steps without doing anything: the
     * artifacts missing from the store, what would be installed, the package changes against the current release
     * and the releases the clean-up would then remove. A manifest deploy would refuse comes back with
     * {@code refused} set.
     */
    public PlanResponse plan(SignedManifest envelope) throws IOException {
        return queries.plan(envelope);
    }

    /** See {@link AppQueries#status}. */
    public List<AppStatus> status(String onlyApp, boolean probeHealth) throws IOException, InterruptedException {
        return queries.status(onlyApp, probeHealth);
    }

    /** See {@link AppQueries#releaseManifest}. */
    public ReleaseManifestResponse releaseManifest(String app, String release) throws NotFoundException, IOException {
        return queries.releaseManifest(app, release);
    }

    /** Stops the progress ticker thread (unless shared) and the trash's deletion. */
    public void close() {
        if (ownsHeartbeat) {
            heartbeat.shutdownNow();
        }
        releases.close();
    }
}

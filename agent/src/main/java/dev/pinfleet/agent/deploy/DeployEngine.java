package dev.pinfleet.agent.deploy;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.AgentConfig;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.fetch.FetchException;
import dev.pinfleet.agent.fetch.FetchResult;
import dev.pinfleet.agent.fetch.Fetcher;
import dev.pinfleet.agent.fetch.Sleeper;
import dev.pinfleet.agent.fs.Durable;
import dev.pinfleet.agent.fs.RootGuard;
import dev.pinfleet.agent.hooks.HookSpec;
import dev.pinfleet.agent.hooks.PostSwitch;
import dev.pinfleet.agent.install.InstallException;
import dev.pinfleet.agent.install.InstallResult;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.Health;
import dev.pinfleet.proto.v1.KeptRelease;
import dev.pinfleet.proto.v1.PackageChange;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.Progress;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.SignedManifest;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.DeployRequest;
import dev.pinfleet.proto.v1.FailureReason;
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
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * One node deploy, step by step: verify, plan, fetch, install, switch, then the manifest's hook and health
 * check (an unhealthy release is switched back by the agent itself: outcome REVERTED). Each step is idempotent;
 * any failure leaves `current` where it was and nothing half-written behind. Also answers plan (what a deploy
 * would do), status and the signed manifest of a kept release (for rollbacks).
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
    /** Crash tests' seam; a no-op unless the JVM runs with -D{@value HaltPoint#PROPERTY}. */
    private final HaltPoint halt = HaltPoint.fromSystemProperties();
    private final AtomicBoolean busy = new AtomicBoolean();
    private final PostSwitch postSwitch;
    /** Last health-check result per app, since the agent started. */
    private final Map<String, CheckResult> health = new java.util.concurrent.ConcurrentHashMap<>();
    private final ScheduledExecutorService heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "deploy-progress");
        t.setDaemon(true);
        return t;
    });

    /** How often a running deploy may send a {@link Progress} event. */
    public static final Duration PROGRESS_INTERVAL = Duration.ofSeconds(1);

    public DeployEngine(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store, Fetcher fetcher,
            ReleaseBuilder builder, Clock clock) {
        this(config, trust, python, store, fetcher, builder, clock, Sleeper.system());
    }

    /** With an injected {@link Sleeper} for the waits between health-check attempts. */
    public DeployEngine(AgentConfig config, TrustPolicy trust, PythonInfo python, ContentStore store, Fetcher fetcher,
            ReleaseBuilder builder, Clock clock, Sleeper sleeper) {
        this.postSwitch = new PostSwitch(clock, sleeper);
        this.config = config;
        this.trust = trust;
        this.python = python;
        this.store = store;
        this.fetcher = fetcher;
        this.builder = builder;
        this.releases = new Releases(config.root(), config.keepReleases(), config.storeMaxBytes(), store, builder, clock,
                halt);
        this.clock = clock;
    }

    /**
     * Cleans what a crash may have left: temp downloads, half-built releases, the trash (in the background);
     * reconciles state with `current` (see {@link Releases#recover}).
     */
    public void recover() throws IOException {
        store.cleanTemp();
        releases.recover(config.node());
    }

    /** Waits at most {@code timeout} until removed releases are deleted from the trash; true when they are. */
    public boolean awaitTrashEmptied(Duration timeout) throws InterruptedException {
        return releases.awaitTrashEmptied(timeout);
    }

    public boolean busy() {
        return busy.get();
    }

    /** Start of the error of a deploy aborted because the agent is shutting down. */
    public static final String ABORTED = "aborted: agent shutting down";
    private final Object abortLock = new Object();
    private volatile boolean aborting;
    /** The running deploy's thread while it may still be interrupted (verify, plan, fetch); guarded by abortLock. */
    private Thread abortable;
    private volatile Consumer<DeployReport> onReport = r -> { };

    /** Hands the report of every finished deploy to {@code listener} (metrics); it must be quick. */
    public void onReport(Consumer<DeployReport> listener) {
        this.onReport = listener;
    }

    /**
     * Shutdown: the running deploy (and any later one) ends before it switches, with error {@value #ABORTED} and
     * `current` unchanged. Verify, plan and fetch are interrupted (downloads cancelled, temp files removed); an
     * install in progress completes (its release is kept, not switched to); a deploy that began switching
     * finishes, hook and health check included.
     */
    public void abort() {
        synchronized (abortLock) {
            aborting = true;
            if (abortable != null) {
                abortable.interrupt();
            }
        }
    }

    /** Waits until no deploy runs, at most {@code timeout}; true when none runs. */
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (abortLock) {
            while (busy.get()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(abortLock, left);
            }
            return true;
        }
    }

    /** As each phase begins: ends the deploy when aborting (up to SWITCH); interrupts stop at INSTALL. */
    private void checkAbort(Phase p) {
        synchronized (abortLock) {
            if (aborting && p.getNumber() <= Phase.SWITCH_VALUE) {
                throw new java.util.concurrent.CancellationException(ABORTED); // typed by fail(), which sees aborting
            }
            if (p.getNumber() >= Phase.INSTALL_VALUE) {
                abortable = null;
            }
        }
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
        synchronized (abortLock) {
            abortable = Thread.currentThread();
        }
        Ticker ticker = new Ticker(events);
        ScheduledFuture<?> tick = heartbeat.scheduleAtFixedRate(ticker::tick, PROGRESS_INTERVAL.toMillis(),
                PROGRESS_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        try {
            DeployReport report = run(request, ticker);
            try {
                onReport.accept(report);
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.WARNING, "report listener failed", e);
            }
            tick.cancel(false);
            ticker.stop();
            events.accept(DeployEvent.newBuilder().setReport(report).setAtUnixMs(clock.millis()).build());
            releases.emptyTrash(); // releases the garbage collection removed: deleted off the deploy's path
            return report;
        } finally {
            tick.cancel(false);
            ticker.stop();
            busy.set(false);
            synchronized (abortLock) {
                abortable = null;
                Thread.interrupted(); // an abort's interrupt must not outlive the deploy on this pooled thread
                abortLock.notifyAll();
            }
        }
    }

    /**
     * Sends a {@link Progress} event about once per {@link #PROGRESS_INTERVAL} while the deploy makes progress
     * (bytes arriving in the store's temp directory, artifacts fetched or installed) or waits on a bounded step
     * (hook, health check); sends nothing while nothing moves, so the controller can tell stuck from slow.
     */
    private final class Ticker implements Consumer<DeployEvent> {
        private final Consumer<DeployEvent> events;
        private final AtomicInteger done = new AtomicInteger();
        private final AtomicLong bytesDone = new AtomicLong();
        private volatile Phase phase = Phase.VERIFY;
        private volatile int total;
        private volatile long bytesTotal;
        private volatile String detail = "";
        private volatile boolean stopped;
        private String lastSent = "";

        Ticker(Consumer<DeployEvent> events) {
            this.events = events;
        }

        void phase(Phase p, int artifacts) {
            phase = p;
            total = artifacts;
            done.set(0);
            detail = "";
        }

        @Override
        public void accept(DeployEvent e) {
            synchronized (this) {
                if (!stopped) {
                    events.accept(e);
                }
            }
        }

        void stop() {
            synchronized (this) {
                stopped = true;
            }
        }

        void tick() {
            try {
                long partial = phase == Phase.FETCH ? partialBytes() : 0;
                Progress p = Progress.newBuilder().setPhase(phase).setArtifactsDone(done.get())
                        .setArtifactsTotal(total).setBytesDone(bytesDone.get() + partial).setBytesTotal(bytesTotal)
                        .setDetail(detail).build();
                boolean waiting = phase == Phase.HOOK || phase == Phase.HEALTH;
                String key = p.toString();
                synchronized (this) {
                    if (stopped || (!waiting && key.equals(lastSent))) {
                        return;
                    }
                    lastSent = key;
                }
                accept(DeployEvent.newBuilder().setProgress(p).setAtUnixMs(clock.millis()).build());
            } catch (RuntimeException e) {
                LOG.log(java.util.logging.Level.FINE, "progress tick", e);
            }
        }

        private long partialBytes() {
            long sum = 0;
            try (java.util.stream.Stream<Path> files = Files.list(store.tmpDir())) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    try {
                        sum += Files.size(f);
                    } catch (IOException e) {
                        // finished and moved meanwhile
                    }
                }
            } catch (IOException e) {
                return 0;
            }
            return sum;
        }
    }

    private DeployReport run(DeployRequest request, Ticker events) {
        long start = clock.millis();
        DeployReport.Builder report = DeployReport.newBuilder();
        Map<Phase, Long> phaseStart = new LinkedHashMap<>();
        Phase[] phase = {Phase.VERIFY};
        BiConsumer<Phase, Integer> begin = (p, artifacts) -> {
            checkAbort(p);
            Long prev = phaseStart.get(phase[0]);
            if (prev != null) {
                report.addPhases(PhaseTiming.newBuilder().setPhase(phase[0]).setMillis(clock.millis() - prev));
            }
            phase[0] = p;
            phaseStart.put(p, clock.millis());
            events.phase(p, artifacts);
            events.accept(DeployEvent.newBuilder().setPhaseStarted(p).setAtUnixMs(clock.millis()).build());
        };
        AppLayout layout = null;
        try {
            begin.accept(Phase.VERIFY, 0);
            Manifest m = verify(request.getManifest());
            String digest = ManifestCodec.contentDigest(m);
            String id = ManifestCodec.releaseId(digest);
            report.setApp(m.getApp()).setSerial(m.getSerial()).setManifestDigest(digest).setRelease(id);
            checkRoot(m.getApp());
            layout = AppLayout.of(config.root(), m.getApp());
            AppStatus state = StateStore.read(layout, m.getApp());
            String previous = releases.currentRelease(layout);
            checkSerial(m, digest, id, state, previous);
            report.setPreviousRelease(previous == null ? "" : previous);

            begin.accept(Phase.PLAN, m.getArtifactsCount());
            checkWritable(layout, previous);
            boolean unchanged = id.equals(previous);
            boolean onDisk = Files.isDirectory(layout.release(id), LinkOption.NOFOLLOW_LINKS);
            Map<String, ArtifactResult.Builder> results = new LinkedHashMap<>();
            for (Artifact a : m.getArtifactsList()) {
                results.put(a.getFilename(), ArtifactResult.newBuilder().setFilename(a.getFilename()));
            }

            List<Artifact> needed = onDisk ? List.of() : m.getArtifactsList();
            long missing = 0;
            for (Artifact a : needed) {
                missing += store.contains(a.getSha256(), a.getSize()) ? 0 : a.getSize();
            }
            events.bytesTotal = missing;
            begin.accept(Phase.FETCH, needed.size());
            List<FetchResult> fetched = fetcher.fetchAll(needed, r -> {
                ArtifactResult ar = toResult(r);
                events.done.incrementAndGet();
                if (ar.getSource() == Source.MIRROR) {
                    events.bytesDone.addAndGet(ar.getBytes());
                }
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

            begin.accept(Phase.INSTALL, onDisk ? 0 : m.getArtifactsCount());
            if (!onDisk) {
                Path staging = layout.staging(id);
                Durable.deleteTree(staging);
                Files.createDirectories(layout.releases());
                List<InstallResult> installed = builder.build(staging, layout.release(id), m,
                        sha -> store.path(sha), r -> events.done.incrementAndGet());
                for (InstallResult r : installed) {
                    results.get(r.filename()).setInstallMs(r.installMillis());
                }
                halt.reach(HaltPoint.AFTER_BUILD);
                releases.writeManifest(staging, request.getManifest());
                Durable.renameDirectory(staging, layout.release(id));
                Durable.fsyncDirectory(layout.releases());
                halt.reach(HaltPoint.AFTER_RELEASE);
            }

            begin.accept(Phase.SWITCH, 0);
            AppStatus.Builder next = state.toBuilder().setApp(m.getApp()).setSerial(m.getSerial())
                    .setRelease(id).setManifestDigest(digest).setLastError("")
                    .setLastOutcome(unchanged ? Outcome.UNCHANGED : Outcome.OK);
            // The serial is persisted before any effect: a crash after this line never allows a replay.
            StateStore.write(layout, next.build());
            for (ArtifactResult.Builder r : results.values()) {
                report.addArtifacts(r);
            }
            if (!unchanged) {
                halt.reach(HaltPoint.BEFORE_SWITCH);
                releases.switchTo(layout, id);
                halt.reach(HaltPoint.AFTER_SWITCH);
                String reason = afterSwitch(m, id, layout, report, events, begin);
                if (reason != null) {
                    revert(m, previous, layout, next, report, events, reason, phase[0]);
                } else {
                    releases.collectGarbage(layout, id, previous);
                }
            }
            if (report.getOutcome() != Outcome.REVERTED) {
                StateStore.write(layout, next.clearReleases().addAllReleases(releases.list(layout)).build());
                report.setOutcome(unchanged ? Outcome.UNCHANGED : Outcome.OK);
            }
        } catch (DeployFailure f) {
            fail(report, layout, f.phase(), f.reason(), f.getMessage());
        } catch (FetchException e) {
            // a local failure (disk full, read-only): say where the agent was writing
            fail(report, layout, Phase.FETCH, e.failureReason(), e.getMessage() + (e.kind() == FetchException.Kind.IO
                    ? " (downloads are written to " + store.tmpDir() + ")" : ""));
        } catch (InstallException e) {
            fail(report, layout, Phase.INSTALL, e.reason(), e.getMessage());
        } catch (IOException | RuntimeException e) {
            LOG.log(java.util.logging.Level.WARNING, "deploy failed in " + phase[0], e);
            String why = e.getClass().getSimpleName() + ": " + e.getMessage();
            if (layout != null && !(e instanceof java.nio.file.FileSystemException fse && fse.getFile() != null)) {
                why += " (" + where(phase[0], layout, report.getRelease()) + ")"; // e.g. a full disk: say where
            }
            fail(report, layout, phase[0], localFailure(phase[0], e), why);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(report, layout, phase[0], FailureReason.REASON_ABORTED, "deploy aborted: agent is shutting down");
        }
        if (report.getOutcome() == Outcome.FAILED) {
            builder.discardPrepared(); // wheels unpacked early for this deploy: nothing of it stays in the cache's .tmp
        }
        Long prev = phaseStart.get(phase[0]);
        if (prev != null) {
            report.addPhases(PhaseTiming.newBuilder().setPhase(phase[0]).setMillis(clock.millis() - prev));
        }
        return report.setTotalMs(clock.millis() - start).build();
    }

    /**
     * The reason of an exception no step typed: a local file system failure of the phase it happened in, or, for
     * an unchecked exception (other than an I/O one), a defect.
     */
    private static FailureReason localFailure(Phase phase, Exception e) {
        if (e instanceof RuntimeException && !(e instanceof java.io.UncheckedIOException)) {
            return FailureReason.REASON_INTERNAL;
        }
        return switch (phase) {
            case VERIFY, PLAN -> FailureReason.REASON_PLAN_LOCAL_IO;
            case FETCH -> FailureReason.REASON_FETCH_LOCAL_IO;
            case INSTALL -> FailureReason.REASON_INSTALL_LOCAL_IO;
            default -> FailureReason.REASON_SWITCH_FAILED;
        };
    }

    /** Where a deploy in {@code phase} writes, for an I/O error that does not say. */
    private String where(Phase phase, AppLayout layout, String release) {
        return switch (phase) {
            case FETCH -> "while writing downloads to " + store.tmpDir();
            case INSTALL -> "while building release " + release + " in " + layout.staging(release)
                    + " from wheels unpacked into " + config.root().resolve("cache");
            case SWITCH -> "while recording the state in " + layout.state() + " and switching " + layout.current();
            default -> "under the agent root " + config.root();
        };
    }

    /**
     * Refuses a serial not greater than the last one recorded, except the very manifest recorded with it: when its
     * release is current (a no-op), or when the state names its release but `current` does not point there (the
     * agent stopped between recording the serial and switching: sending it again completes the switch).
     */
    private void checkSerial(Manifest m, String digest, String id, AppStatus state, String current)
            throws DeployFailure {
        boolean sameAgain = m.getSerial() == state.getSerial() && digest.equals(state.getManifestDigest())
                && (id.equals(current) || id.equals(state.getRelease()));
        if (m.getSerial() <= state.getSerial() && !sameAgain) {
            throw new DeployFailure(Phase.VERIFY, FailureReason.REASON_VERIFY_SERIAL, "manifest serial " + m.getSerial() + " for app " + m.getApp()
                    + " is not greater than the last applied serial " + state.getSerial()
                    + " (replay or stale manifest refused)", null);
        }
    }

    /**
     * Before a deploy acts: the agent root holds no planted link and no world-writable directory
     * ({@link RootGuard}). Nothing is written when it does, not even the failure into the app's state.
     */
    private void checkRoot(String app) throws DeployFailure, IOException {
        try {
            RootGuard.check(config.node(), config.root());
        } catch (RootGuard.UnsafeRootException e) {
            // PLAN: a local file system fault
            throw new DeployFailure(Phase.PLAN, FailureReason.REASON_PLAN_UNSAFE_ROOT, e.detail()
                    + "; nothing was changed for app " + app, e);
        }
    }

    /**
     * Before anything is fetched: the app's directory (state and `current`) and its releases directory take writes.
     * A read-only mount or a full inode table is refused here, while the serial is not yet recorded.
     */
    private void checkWritable(AppLayout layout, String current) throws DeployFailure {
        for (Path dir : List.of(layout.dir(), layout.releases())) {
            try {
                RootGuard.probeWritable(dir);
            } catch (IOException e) {
                String why = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null
                        ? fse.getReason() : e.getClass().getSimpleName() + ": " + e.getMessage();
                throw new DeployFailure(Phase.PLAN, FailureReason.REASON_PLAN_LOCAL_IO, "cannot write to " + (dir.equals(layout.dir())
                        ? "the state directory " : "the releases directory ") + dir + " (" + why + "); nothing was "
                        + "fetched or switched, " + (current == null ? "there is no current release"
                        : "release " + current + " stays current"), e);
            }
        }
    }

    /** Runs the hook, then the health check; returns why the release must be reverted, or null. */
    private String afterSwitch(Manifest m, String id, AppLayout layout, DeployReport.Builder report, Ticker events,
            BiConsumer<Phase, Integer> begin) throws InterruptedException {
        PostSwitch.Target target = new PostSwitch.Target(config.node(), m.getApp(), id, layout.release(id));
        Consumer<CheckResult> onCheck = r -> {
            synchronized (report) {
                report.addChecks(r);
            }
            events.accept(DeployEvent.newBuilder().setCheck(r).setAtUnixMs(clock.millis()).build());
        };
        if (m.hasPostSwitchHook()) {
            begin.accept(Phase.HOOK, 1);
            CheckResult r = postSwitch.hook("hook", m, target, onCheck);
            if (!r.getOk()) {
                return PostSwitch.describe(r);
            }
        }
        if (m.hasHealthCheck()) {
            begin.accept(Phase.HEALTH, 1 + m.getHealthCheck().getRetries());
            CheckResult r = postSwitch.health(m, target, onCheck, d -> events.detail = d);
            health.put(m.getApp(), r);
            if (!r.getOk()) {
                return "unhealthy after " + r.getAttempt() + " attempt(s): " + PostSwitch.describe(r);
            }
        }
        return null;
    }

    /**
     * Switches back to {@code previous} (or removes `current` when there was none), runs the previous release's hook
     * so the service picks it up again, and records REVERTED. The serial stays consumed: the state keeps it.
     */
    private void revert(Manifest m, String previous, AppLayout layout, AppStatus.Builder next,
            DeployReport.Builder report, Ticker events, String reason, Phase failedIn)
            throws IOException, InterruptedException {
        String back;
        String backDigest = "";
        if (previous != null) {
            releases.switchTo(layout, previous);
            Manifest pm = Releases.manifestOf(layout.release(previous));
            backDigest = pm == null ? "" : ManifestCodec.contentDigest(pm);
            back = "switched back to release " + previous;
        } else {
            Files.deleteIfExists(layout.current());
            Durable.fsyncDirectory(layout.dir());
            back = "removed `current` (there was no previous release)";
        }
        String error = "node " + config.node() + ": release " + report.getRelease() + " of app " + m.getApp()
                + " reverted, " + back + ": " + reason;
        LOG.warning(error);
        StateStore.write(layout, next.setRelease(previous == null ? "" : previous).setManifestDigest(backDigest)
                .setLastOutcome(Outcome.REVERTED).setLastError(error).clearReleases()
                .addAllReleases(releases.list(layout)).build());
        report.setOutcome(Outcome.REVERTED).setFailedPhase(failedIn).setError(error).setReason(
                failedIn == Phase.HOOK ? FailureReason.REASON_HOOK_FAILED : FailureReason.REASON_HEALTH_FAILED);
        if (previous != null) {
            Manifest pm = Releases.manifestOf(layout.release(previous));
            if (pm != null && pm.hasPostSwitchHook()) {
                postSwitch.hook("hook-after-revert", pm, new PostSwitch.Target(config.node(), m.getApp(), previous,
                        layout.release(previous)), r -> {
                            synchronized (report) {
                                report.addChecks(r);
                            }
                            events.accept(DeployEvent.newBuilder().setCheck(r).setAtUnixMs(clock.millis()).build());
                        });
            }
            health.remove(m.getApp());
        }
    }

    private void fail(DeployReport.Builder report, AppLayout layout, Phase phase, FailureReason reason, String why) {
        if (aborting) {
            reason = FailureReason.REASON_ABORTED;
            synchronized (abortLock) {
                abortable = null;
                Thread.interrupted(); // the abort's interrupt did its job; the cleanup below needs working I/O
            }
            why = ABORTED + ": the deploy did not finish within shutdown-seconds=" + config.shutdownSeconds()
                    + " and was stopped in " + phase + "; " + (report.getPreviousRelease().isEmpty()
                    ? "`current` is unchanged" : "release " + report.getPreviousRelease() + " stays current");
        }
        String error = "node " + config.node() + ": " + why;
        report.setOutcome(Outcome.FAILED).setFailedPhase(phase).setReason(reason).setError(error).clearArtifacts();
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

    private Manifest verify(SignedManifest envelope) throws DeployFailure {
        Manifest m;
        try {
            m = trust.admit(envelope, clock.instant(), config.environment());
        } catch (ManifestException e) {
            throw new DeployFailure(Phase.VERIFY, verifyReason(e.reason()), e.getMessage(), e);
        }
        if (!m.getPython().equals(python.version())) {
            throw new DeployFailure(Phase.VERIFY, FailureReason.REASON_VERIFY_PYTHON, "manifest targets Python " + m.getPython() + " but this node's "
                    + "interpreter " + python.executable() + " is Python " + python.version(), null);
        }
        String hooks = HookSpec.check(m);
        if (hooks != null) {
            throw new DeployFailure(Phase.VERIFY, FailureReason.REASON_VERIFY_MANIFEST, hooks, null);
        }
        return m;
    }

    /** The typed reason of a manifest the trust policy refused. */
    private static FailureReason verifyReason(ManifestException.Reason r) {
        return switch (r) {
            case SIGNATURE -> FailureReason.REASON_VERIFY_SIGNATURE;
            case EXPIRED -> FailureReason.REASON_VERIFY_EXPIRED;
            case ENVIRONMENT -> FailureReason.REASON_VERIFY_ENVIRONMENT;
            case INVALID -> FailureReason.REASON_VERIFY_MANIFEST;
        };
    }

    private static ArtifactResult toResult(FetchResult r) {
        return r.toProto();
    }

    /**
     * Status of every app (or one): serial, current release and its digest, the kept releases with their serials,
     * and the health of the current release ({@code probeHealth}: checked now, else the last known result).
     */
    public List<AppStatus> status(String onlyApp, boolean probeHealth) throws IOException, InterruptedException {
        List<AppStatus> out = new ArrayList<>();
        for (String app : releases.apps()) {
            if (!onlyApp.isEmpty() && !onlyApp.equals(app)) {
                continue;
            }
            AppLayout layout = AppLayout.of(config.root(), app);
            AppStatus s = StateStore.read(layout, app);
            String cur = releases.currentRelease(layout);
            AppStatus.Builder b = s.toBuilder().setRelease(cur == null ? "" : cur).clearReleases().clearKept();
            Manifest current = null;
            for (String id : releases.list(layout)) {
                b.addReleases(id);
                Manifest km = Releases.manifestOf(layout.release(id));
                KeptRelease.Builder k = KeptRelease.newBuilder().setRelease(id).setCurrent(id.equals(cur));
                if (km != null) {
                    k.setSerial(km.getSerial()).setManifestDigest(ManifestCodec.contentDigest(km))
                            .setCreatedUnixMs(Timestamps.toMillis(km.getCreated()));
                    if (id.equals(cur)) {
                        current = km;
                    }
                }
                b.addKept(k);
            }
            // the state may name a release the agent stopped short of switching to (see Releases#recover)
            b.setManifestDigest(current == null ? (cur == null ? "" : s.getManifestDigest())
                    : ManifestCodec.contentDigest(current));
            if (current == null || !current.hasHealthCheck()) {
                b.setHealth(Health.HEALTH_NONE);
            } else {
                CheckResult last = probeHealth ? postSwitch.health(current, new PostSwitch.Target(config.node(), app,
                        cur, layout.release(cur)), r -> { }, d -> { }) : health.get(app);
                if (last != null) {
                    health.put(app, last);
                }
                b.setHealth(last == null ? Health.HEALTH_UNKNOWN : last.getOk() ? Health.HEALTHY : Health.UNHEALTHY)
                        .setHealthDetail(last == null || last.getOk() ? "" : PostSwitch.describe(last));
            }
            out.add(b.build());
        }
        return out;
    }

    /** Thrown when a release asked for is not on this node. */
    public static final class NotFoundException extends Exception {
        private static final long serialVersionUID = 1L;

        NotFoundException(String message) {
            super(message);
        }
    }

    /** The signed manifest a kept release was built from, exactly as deployed. */
    public ReleaseManifestResponse releaseManifest(String app, String release) throws NotFoundException, IOException {
        String why = Names.checkApp(app);
        if (why != null) {
            throw new NotFoundException("node " + config.node() + ": app: " + why);
        }
        if (!release.matches("[0-9a-f]{16}")) {
            throw new NotFoundException("node " + config.node() + ": release '" + Names.printable(release)
                    + "' is not a release id (16 lowercase hex characters)");
        }
        Path f = AppLayout.of(config.root(), app).release(release).resolve(Releases.MANIFEST_FILE);
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            throw new NotFoundException("node " + config.node() + ": app " + app + " has no release " + release);
        }
        SignedManifest.Builder b = SignedManifest.newBuilder();
        JsonFormat.parser().merge(Files.readString(f, StandardCharsets.UTF_8), b);
        try {
            return ReleaseManifestResponse.newBuilder().setManifest(b)
                    .setSerial(ManifestCodec.parse(b.getPayload().toByteArray()).getSerial()).build();
        } catch (ManifestException e) {
            throw new IOException(f + ": " + e.getMessage(), e);
        }
    }

    /**
     * What {@link #deploy} would do with this envelope, without downloading or changing anything: the artifacts
     * missing from the store, what would be installed, the package changes against the current release and the
     * releases the garbage collection would then delete. A manifest deploy would refuse comes back with
     * {@code refused} set.
     */
    public PlanResponse plan(SignedManifest envelope) throws IOException {
        PlanResponse.Builder b = PlanResponse.newBuilder().setNode(config.node());
        Manifest m;
        try {
            m = verify(envelope);
        } catch (DeployFailure f) {
            return b.setRefused("node " + config.node() + ": " + f.getMessage()).build();
        }
        String digest = ManifestCodec.contentDigest(m);
        String id = ManifestCodec.releaseId(digest);
        AppLayout layout = AppLayout.of(config.root(), m.getApp());
        String current = releases.currentRelease(layout);
        b.setApp(m.getApp()).setSerial(m.getSerial()).setRelease(id).setCurrentRelease(current == null ? "" : current);
        try {
            checkRoot(m.getApp());
            checkSerial(m, digest, id, StateStore.read(layout, m.getApp()), current);
        } catch (DeployFailure f) {
            b.setRefused("node " + config.node() + ": " + f.getMessage());
        }
        boolean unchanged = id.equals(current);
        boolean onDisk = Files.isDirectory(layout.release(id), LinkOption.NOFOLLOW_LINKS);
        b.setUnchanged(unchanged).setReleaseOnDisk(onDisk);
        if (!onDisk) {
            java.util.Set<String> seen = new java.util.HashSet<>();
            long bytes = 0;
            for (Artifact a : m.getArtifactsList()) {
                if (!store.contains(a.getSha256(), a.getSize()) && seen.add(a.getSha256())) {
                    b.addFetch(a);
                    bytes += a.getSize();
                }
                b.addInstall(a.getFilename());
            }
            b.setFetchBytes(bytes);
        }
        Manifest cur = current == null ? null : Releases.manifestOf(layout.release(current));
        Map<String, String> before = new java.util.TreeMap<>();
        Map<String, String> after = new java.util.TreeMap<>();
        if (cur != null) {
            cur.getArtifactsList().forEach(a -> before.put(Names.normalizeProject(a.getName()), a.getVersion()));
        }
        m.getArtifactsList().forEach(a -> after.put(Names.normalizeProject(a.getName()), a.getVersion()));
        java.util.Set<String> names = new java.util.TreeSet<>(before.keySet());
        names.addAll(after.keySet());
        for (String n : names) {
            String from = before.getOrDefault(n, "");
            String to = after.getOrDefault(n, "");
            if (!from.equals(to)) {
                b.addChanges(PackageChange.newBuilder().setName(n).setFromVersion(from).setToVersion(to));
            }
        }
        if (!unchanged) {
            // The rule the garbage collection after the switch applies (Releases#doomed), size cap included.
            for (Releases.Doomed d : releases.doomed(layout, id, current, onDisk ? null : m)) {
                b.addRemoveReleases(d.app().equals(m.getApp()) ? d.id() : d.toString());
            }
        }
        return b.build();
    }

    /** Stops the progress ticker thread. */
    public void close() {
        heartbeat.shutdownNow();
        releases.close();
    }
}

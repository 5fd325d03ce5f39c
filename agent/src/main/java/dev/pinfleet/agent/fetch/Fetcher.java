package dev.pinfleet.agent.fetch;

import dev.pinfleet.concurrent.DaemonThreads;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Source;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Brings the artifacts of a manifest into the {@link ContentStore}: the missing ones are downloaded from the
 * mirrors (ordered, with failover) by a fixed pool of {@code parallelism} workers, each byte hashed and counted
 * as it streams to a temp file, and only verified files are committed. The only URLs requested are a mirror's
 * base URL followed by an artifact's path; redirects are refused.
 *
 * <p>HTTP/1.1 is used on purpose: each parallel download has its own connection, so a cut, timed-out or
 * cancelled download closes only its own. {@code http://} mirrors are read over plain blocking sockets
 * ({@link PlainHttpDownload}, cheap on CPU), {@code https://} ones with the JDK's HTTP client. Thread-safe;
 * {@link #close()} stops the workers.
 */
public final class Fetcher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Fetcher.class.getName());
    private final List<URI> mirrors;
    private final ExecutorService pool;
    private final ScheduledExecutorService timer;
    private final ArtifactFetch artifactFetch;
    private final Set<Batch> running = ConcurrentHashMap.newKeySet();
    private volatile BiConsumer<Artifact, Path> onCommitted = (a, p) -> { };

    /**
     * @param mirrors ordered base URLs of the mirrors (http or https, e.g. {@code http://127.0.0.1:8080/}); the
     *                first is tried first, the others only after it failed for an artifact
     * @param store   where verified artifacts go
     * @param cfg     parallelism, timeouts and retries
     * @param sleeper waits between retries (the real clock in production, a recorder in tests)
     */
    public Fetcher(List<URI> mirrors, ContentStore store, FetchConfig cfg, Sleeper sleeper) {
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(cfg, "cfg");
        Objects.requireNonNull(sleeper, "sleeper");
        if (mirrors == null || mirrors.isEmpty()) {
            throw new IllegalArgumentException("at least one mirror URL is needed");
        }
        this.mirrors = mirrors.stream().map(MirrorUrls::base).toList();
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, new DaemonThreads("pinfleet-fetch-watchdog"));
        t.setRemoveOnCancelPolicy(true);
        this.timer = t;
        this.pool = Executors.newFixedThreadPool(cfg.parallelism(), new DaemonThreads("pinfleet-fetch"));
        Transfer.Transport plain = new PlainHttpDownload(cfg, timer);
        Transfer.Transport tls = this.mirrors.stream().anyMatch(m -> m.getScheme().equalsIgnoreCase("https"))
                ? new HttpDownload(HttpClient.newBuilder()
                        .version(HttpClient.Version.HTTP_1_1)
                        .followRedirects(HttpClient.Redirect.NEVER)
                        .connectTimeout(cfg.connectTimeout())
                        .build(), cfg, timer)
                : null;
        this.artifactFetch = new ArtifactFetch(this.mirrors, store, cfg, sleeper,
                url -> url.getScheme().equalsIgnoreCase("https") ? tls : plain);
    }

    /**
     * Hands every artifact downloaded and committed to the store, with its store path, to {@code listener}, on the
     * download's worker thread, before the artifact counts as done: the installer starts unpacking a wheel while
     * the others are still downloading. The listener must be quick (hand the work on) and must not throw.
     */
    public void onCommitted(BiConsumer<Artifact, Path> listener) {
        this.onCommitted = Objects.requireNonNull(listener, "listener");
    }

    /** The mirror base URLs in use, in order (normalized to end with '/'). */
    public List<URI> mirrors() {
        return mirrors;
    }

    /**
     * Fetches every artifact not already in the store, at most {@code parallelism} at once, the largest first (so
     * that the longest downloads, and the unpacking that follows them, start early). Artifacts present in
     * the store with the right size are reported as {@link dev.pinfleet.proto.v1.Source#STORE} without re-hashing
     * (only verified bytes are ever committed). An artifact whose sha256 an earlier one in the list shares is
     * downloaded once and reported as from the store.
     *
     * <p>On the first failure the other downloads are cancelled, their temp files removed, and the failure is
     * thrown; the results of the others are discarded, while what they already committed stays in the store.
     *
     * @param artifacts artifacts of a verified manifest (paths and digests validated by the manifest codec)
     * @param onEach    called from worker threads as each artifact finishes (may be null)
     * @return one result per artifact, in the order given
     * @throws FetchException       the first failure; its message names the file, the mirror URL(s) and why
     * @throws InterruptedException when the calling thread was interrupted (the downloads are cancelled first)
     */
    public List<FetchResult> fetchAll(List<Artifact> artifacts, Consumer<FetchResult> onEach)
            throws FetchException, InterruptedException {
        Consumer<FetchResult> report = onEach == null ? r -> { } : onEach;
        Map<String, List<Integer>> bySha = groupBySha(artifacts);
        FetchResult[] results = new FetchResult[artifacts.size()];
        Batch batch = new Batch();
        running.add(batch);
        try {
            ExecutorCompletionService<Void> done = new ExecutorCompletionService<>(pool);
            List<Future<Void>> tasks = new ArrayList<>(bySha.size());
            try {
                List<List<Integer>> bySize = new ArrayList<>(bySha.values());
                bySize.sort(Comparator.comparingLong((List<Integer> g) -> artifacts.get(g.get(0)).getSize()).reversed());
                for (List<Integer> same : bySize) {
                    tasks.add(done.submit(() -> {
                        fetchGroup(artifacts, same, batch, results, report);
                        return null;
                    }));
                }
            } catch (RejectedExecutionException e) {
                batch.cancel("the fetcher is closed");
                awaitAll(tasks);
                throw new IllegalStateException("the fetcher is closed", e);
            }
            Throwable failure = null;
            try {
                for (int i = 0; i < tasks.size() && failure == null; i++) {
                    try {
                        done.take().get();
                    } catch (ExecutionException e) {
                        failure = e.getCause();
                    }
                }
            } catch (InterruptedException e) {
                batch.cancel("the deploy was interrupted");
                awaitAll(tasks);
                throw e;
            }
            if (failure != null) {
                batch.cancel(failure instanceof FetchException fe
                        ? "fetching " + fe.filename() + " failed" : "fetching failed");
                awaitAll(tasks);
                throw rethrow(failure);
            }
            return Collections.unmodifiableList(Arrays.asList(results));
        } finally {
            running.remove(batch);
        }
    }

    private void fetchGroup(List<Artifact> artifacts, List<Integer> same, Batch batch, FetchResult[] results,
                            Consumer<FetchResult> report) throws FetchException {
        Artifact a = artifacts.get(same.get(0));
        FetchResult first = artifactFetch.fetch(a, batch);
        if (first.source() == Source.MIRROR) {
            try {
                onCommitted.accept(a, artifactFetch.storePath(a));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "listener failed on " + a.getFilename() + ": " + e);
            }
        }
        results[same.get(0)] = first;
        report.accept(first);
        for (int i = 1; i < same.size(); i++) {
            FetchResult dup = FetchResult.fromStore(artifacts.get(same.get(i)));
            results[same.get(i)] = dup;
            report.accept(dup);
        }
    }

    /** Indexes of the artifacts by sha256, in first-seen order; refuses one digest listed with two sizes. */
    private static Map<String, List<Integer>> groupBySha(List<Artifact> artifacts) throws FetchException {
        Map<String, List<Integer>> bySha = new LinkedHashMap<>();
        for (int i = 0; i < artifacts.size(); i++) {
            Artifact a = artifacts.get(i);
            List<Integer> same = bySha.computeIfAbsent(a.getSha256(), k -> new ArrayList<>());
            if (!same.isEmpty()) {
                Artifact first = artifacts.get(same.get(0));
                if (first.getSize() != a.getSize()) {
                    throw new FetchException(FetchException.Kind.SIZE, a.getFilename(), "", "listed as "
                            + a.getSize() + " bytes with sha256 " + a.getSha256() + ", which " + first.getFilename()
                            + " lists as " + first.getSize() + " bytes", null);
                }
            }
            same.add(i);
        }
        return bySha;
    }

    /** Waits until every task has ended (cancelled ones end quickly), so their temp files are gone. */
    private static void awaitAll(List<Future<Void>> tasks) {
        boolean interrupted = false;
        for (Future<Void> f : tasks) {
            while (true) {
                try {
                    f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException | CancellationException e) {
                    break;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static RuntimeException rethrow(Throwable t) throws FetchException {
        if (t instanceof FetchException fe) {
            throw fe;
        }
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error err) {
            throw err;
        }
        throw new IllegalStateException("fetch task failed", t);
    }

    /** Cancels running fetches and stops the worker pool; the fetcher cannot be used afterwards. */
    @Override
    public void close() {
        running.forEach(b -> b.cancel("the fetcher was closed"));
        pool.shutdown();
        timer.shutdownNow();
    }
}

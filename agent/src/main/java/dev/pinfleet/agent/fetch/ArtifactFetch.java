package dev.pinfleet.agent.fetch;

import dev.pinfleet.agent.fetch.FetchException.Kind;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Source;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * Gets one artifact into the store: mirrors in order; on each, up to {@code maxTries} attempts for retryable
 * failures with jittered exponential back-off, continuing a cut download where possible. Not-found, wrong
 * bytes, wrong size, redirects and other client errors move on to the next mirror at once; local file system
 * failures and cancellation end the fetch. A partial file never moves from one mirror to the next.
 */
final class ArtifactFetch {
    private static final System.Logger LOG = System.getLogger(ArtifactFetch.class.getName());

    private final List<URI> mirrors;
    private final ContentStore store;
    private final FetchConfig cfg;
    private final Sleeper sleeper;
    private final Function<URI, Transfer.Transport> transports;

    /** @param transports the transport for a URL (by its scheme) */
    ArtifactFetch(List<URI> mirrors, ContentStore store, FetchConfig cfg, Sleeper sleeper,
            Function<URI, Transfer.Transport> transports) {
        this.mirrors = mirrors;
        this.store = store;
        this.cfg = cfg;
        this.sleeper = sleeper;
        this.transports = transports;
    }

    /** Where a committed artifact lives in the store. */
    Path storePath(Artifact a) {
        return store.path(a.getSha256());
    }

    FetchResult fetch(Artifact a, Batch batch) throws FetchException {
        if (store.contains(a.getSha256(), a.getSize())) {
            return FetchResult.fromStore(a);
        }
        long start = System.nanoTime();
        int tries = 0;
        FetchException last = null;
        List<String> perMirror = new ArrayList<>();
        List<FetchException> lastPerMirror = new ArrayList<>();
        for (URI base : mirrors) {
            URI url = MirrorUrls.resolve(base, a.getPath());
            int triesHere = 0;
            PartialFile part = null;
            try {
                for (int attempt = 1; attempt <= cfg.maxTries(); attempt++) {
                    checkCancelled(batch, a, url);
                    if (part == null) {
                        part = createPart(a, url);
                    }
                    tries++;
                    triesHere++;
                    try {
                        boolean resumed = transports.apply(url).run(a, url, part, batch);
                        verifyAndCommit(a, url, part);
                        PartialFile done = part;
                        part = null;
                        return new FetchResult(a.getFilename(), a.getSha256(), a.getSize(), Source.MIRROR,
                                url.toString(), tries, (System.nanoTime() - start) / 1_000_000,
                                done.hashNanos() / 1_000_000, resumed);
                    } catch (FetchException e) {
                        last = e;
                        if (e.kind() == Kind.IO || e.kind() == Kind.CANCELLED) {
                            throw e;
                        }
                        if (e.kind() == Kind.CHECKSUM) {
                            LOG.log(Level.WARNING, e.getMessage());
                        }
                        if (!e.retryable() || attempt == cfg.maxTries()) {
                            break;
                        }
                        Duration wait = jitter(cfg.backoff(attempt));
                        int next = attempt + 1;
                        LOG.log(Level.INFO, () -> e.getMessage() + "; try " + next + " of " + cfg.maxTries()
                                + " on this mirror in " + wait.toMillis() + " ms");
                        backoff(batch, wait, a, url);
                    } catch (InterruptedException e) {
                        throw cancelled(batch, a, url);
                    }
                }
            } finally {
                if (part != null) {
                    part.delete();
                }
            }
            perMirror.add(url + ": " + last.reason() + " (" + triesHere + (triesHere == 1 ? " try)" : " tries)"));
            lastPerMirror.add(last);
        }
        throw FetchException.exhausted(lastPerMirror, "cannot fetch " + a.getFilename() + " (sha256 " + a.getSha256() + ", "
                + a.getSize() + " bytes) from " + (mirrors.size() == 1 ? "its mirror" : "any of "
                + mirrors.size() + " mirrors") + " in " + tries + (tries == 1 ? " try" : " tries"), perMirror);
    }

    private void verifyAndCommit(Artifact a, URI url, PartialFile part) throws FetchException {
        String actual;
        try {
            actual = part.finish();
        } catch (IOException e) {
            throw Transfer.localFailure(a, url, e);
        }
        if (!actual.equals(a.getSha256())) {
            throw new FetchException(Kind.CHECKSUM, a.getFilename(), url.toString(), "checksum mismatch: expected"
                    + " sha256 " + a.getSha256() + ", got " + actual + " over " + part.bytes() + " bytes", null);
        }
        try {
            store.commit(part.path(), a.getSha256());
        } catch (IOException e) {
            throw new FetchException(Kind.IO, a.getFilename(), url.toString(), "cannot move the verified download"
                    + " into the store at " + store.path(a.getSha256()) + ": " + Transfer.describe(e), e);
        }
    }

    private PartialFile createPart(Artifact a, URI url) throws FetchException {
        try {
            return PartialFile.create(store.tmpDir());
        } catch (IOException e) {
            throw new FetchException(Kind.IO, a.getFilename(), url.toString(), "cannot create a temp file in "
                    + store.tmpDir() + ": " + Transfer.describe(e), e);
        }
    }

    private void backoff(Batch batch, Duration wait, Artifact a, URI url) throws FetchException {
        try {
            batch.sleep(sleeper, wait);
        } catch (InterruptedException e) {
            throw cancelled(batch, a, url);
        }
    }

    private static void checkCancelled(Batch batch, Artifact a, URI url) throws FetchException {
        if (batch.cancelReason() != null) {
            throw cancelled(batch, a, url);
        }
    }

    private static FetchException cancelled(Batch batch, Artifact a, URI url) {
        String why = batch.cancelReason();
        return new FetchException(Kind.CANCELLED, a.getFilename(), url.toString(),
                "cancelled: " + (why == null ? "interrupted" : why), null);
    }

    /** Equal jitter: between half and all of {@code d}, so a fleet's retries do not arrive in lockstep. */
    private static Duration jitter(Duration d) {
        long n = d.toNanos();
        return n < 2 ? d : Duration.ofNanos(n / 2 + ThreadLocalRandom.current().nextLong(n - n / 2 + 1));
    }
}

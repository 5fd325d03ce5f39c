package dev.pinfleet.agent.deploy;

import dev.pinfleet.proto.v1.DeployEvent;
import dev.pinfleet.proto.v1.Phase;
import dev.pinfleet.proto.v1.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The event stream of one deploy: passes its events on until {@link #stop}, and sends a {@link Progress} event on
 * each {@link #tick} while the deploy makes progress (bytes arriving in the store's temp directory, artifacts
 * fetched or installed) or waits on a bounded step (hook, health check); sends nothing while nothing moves, so the
 * controller can tell stuck from slow. Ticks come from another thread than the deploy's.
 */
final class Ticker implements Consumer<DeployEvent> {
    private static final Logger LOG = Logger.getLogger(Ticker.class.getName());

    private final Consumer<DeployEvent> events;
    private final Clock clock;
    private final Path downloads;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicLong bytesDone = new AtomicLong();
    private volatile Phase phase = Phase.VERIFY;
    private volatile int total;
    private volatile long bytesTotal;
    private volatile String detail = "";
    private boolean stopped;
    private String lastSent = "";

    /** @param downloads where partial downloads grow (counted while fetching) */
    Ticker(Consumer<DeployEvent> events, Clock clock, Path downloads) {
        this.events = events;
        this.clock = clock;
        this.downloads = downloads;
    }

    /** A phase began that works on {@code artifacts} artifacts. */
    void phase(Phase p, int artifacts) {
        phase = p;
        total = artifacts;
        done.set(0);
        detail = "";
    }

    /** Bytes this deploy has to download. */
    void bytesTotal(long bytes) {
        bytesTotal = bytes;
    }

    /** One artifact of the phase is done; {@code downloaded} bytes of it came from a mirror. */
    void artifactDone(long downloaded) {
        done.incrementAndGet();
        bytesDone.addAndGet(downloaded);
    }

    /** A short note on what the phase waits for (e.g. "health attempt 2 of 4"). */
    void detail(String d) {
        detail = d;
    }

    @Override
    public void accept(DeployEvent e) {
        synchronized (this) {
            if (!stopped) {
                events.accept(e);
            }
        }
    }

    /** No event is passed on after this. */
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
            LOG.log(Level.FINE, "progress tick", e);
        }
    }

    private long partialBytes() {
        long sum = 0;
        try (Stream<Path> files = Files.list(downloads)) {
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

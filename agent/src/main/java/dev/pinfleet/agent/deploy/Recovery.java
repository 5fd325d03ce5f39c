package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * At start, what a crash may have left: temp downloads, interrupted unpacks in the cache, half-built releases and
 * the trash (deleted in the background); and each app's state made to agree with `current`, which only ever points
 * at a complete release.
 *
 * <p>One disagreement is kept on purpose: a deploy records its serial and release in the state just before it
 * switches `current`; when the agent stopped in between, the state names a complete release of the same manifest
 * digest that `current` does not point at yet. The state then keeps that serial and release (so the same signed
 * manifest, sent again, completes the switch instead of being refused as a replay) and its last attempt says what
 * happened; status reports the release `current` actually points at.
 */
final class Recovery {
    private static final Logger LOG = Logger.getLogger(Recovery.class.getName());

    private final String node;
    private final Path root;
    private final ContentStore store;
    private final ReleaseBuilder builder;
    private final Releases releases;

    Recovery(String node, Path root, ContentStore store, ReleaseBuilder builder, Releases releases) {
        this.node = node;
        this.root = root;
        this.store = store;
        this.builder = builder;
        this.releases = releases;
    }

    void run() throws IOException {
        store.cleanTemp();
        builder.recover();
        releases.emptyTrash();
        for (String app : releases.apps()) {
            AppLayout layout = AppLayout.of(root, app);
            if (Files.isDirectory(layout.releases())) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(layout.releases(), ".staging-*")) {
                    for (Path p : ds) {
                        LOG.info("removing half-built release " + p);
                        Durable.deleteTree(p);
                    }
                }
            }
            reconcile(layout, app);
        }
    }

    private void reconcile(AppLayout layout, String app) throws IOException {
        String cur = releases.currentRelease(layout);
        AppState s = StateStore.read(layout, app);
        if (cur != null && s.hasPending() && s.getPending().getRelease().equals(cur)) {
            String error = "node " + node + ": the agent stopped after switching app " + app + " to release " + cur
                    + " but before its hook and health check ran; deploying the same signed manifest again runs them"
                    + " (and switches back to " + (s.getPending().getPreviousRelease().isEmpty() ? "no release"
                    : "release " + s.getPending().getPreviousRelease()) + " when they fail)";
            StateStore.write(layout, StateStore.attempt(s.toBuilder(), s.getLast().toBuilder().setError(error)
                    .build()).build());
            LOG.warning(error);
            return;
        }
        if (cur != null && cur.equals(s.getRelease()) || cur == null && s.getRelease().isEmpty()) {
            return;
        }
        if (interruptedSwitch(layout, s)) {
            String error = "node " + node + ": the agent stopped after recording serial " + s.getSerial()
                    + " for release " + s.getRelease() + " of app " + app + " but before switching `current` to it; "
                    + (cur == null ? "there is no current release" : "release " + cur + " stays current")
                    + "; deploying the same signed manifest again completes the switch";
            StateStore.write(layout, StateStore.attempt(s.toBuilder(), s.getLast().toBuilder()
                    .setOutcome(Outcome.FAILED).setError(error).build()).build());
            LOG.warning(error);
        } else if (cur != null) {
            Manifest m = Releases.manifestOf(layout.release(cur));
            StateStore.write(layout, s.toBuilder().setRelease(cur)
                    .setManifestDigest(m == null ? "" : ManifestCodec.contentDigest(m)).build());
            LOG.info("app " + app + ": state said release " + s.getRelease() + ", current is " + cur + "; state updated");
        }
    }

    /** True when the state names a complete release of its manifest digest that `current` does not point at. */
    private static boolean interruptedSwitch(AppLayout layout, AppState s) {
        if (s.getRelease().isEmpty() || s.getManifestDigest().isEmpty()
                || !Files.isDirectory(layout.release(s.getRelease()), LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        Manifest m = Releases.manifestOf(layout.release(s.getRelease()));
        return m != null && ManifestCodec.contentDigest(m).equals(s.getManifestDigest());
    }
}

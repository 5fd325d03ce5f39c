package dev.pinfleet.agent.deploy;

import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.agent.hooks.PostSwitch;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.Health;
import dev.pinfleet.proto.v1.KeptRelease;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.PlanResponse;
import dev.pinfleet.proto.v1.ReleaseManifestResponse;
import dev.pinfleet.proto.v1.SignedManifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The read-only questions about the apps on this node: status, what a deploy would do (plan), and the signed
 * manifest of a kept release.
 */
final class AppQueries {
    private final String node;
    private final Path root;
    private final Releases releases;
    private final PostSwitch postSwitch;
    /** Last health-check result per app, shared with the post-switch step. */
    private final Map<String, CheckResult> health;
    private final VerifyStep verify;
    private final PlanStep plan;

    AppQueries(String node, Path root, Releases releases, PostSwitch postSwitch, Map<String, CheckResult> health,
            VerifyStep verify, PlanStep plan) {
        this.node = node;
        this.verify = verify;
        this.plan = plan;
        this.root = root;
        this.releases = releases;
        this.postSwitch = postSwitch;
        this.health = health;
    }

    /**
     * Status of every app (or one): serial, current release and its digest, the kept releases with their serials,
     * and the health of the current release ({@code probeHealth}: checked now, else the last known result).
     */
    List<AppStatus> status(String onlyApp, boolean probeHealth) throws IOException, InterruptedException {
        List<AppStatus> out = new ArrayList<>();
        for (String app : releases.apps()) {
            if (!onlyApp.isEmpty() && !onlyApp.equals(app)) {
                continue;
            }
            AppLayout layout = AppLayout.of(root, app);
            AppState s = StateStore.read(layout, app);
            String cur = releases.currentRelease(layout);
            AppStatus.Builder b = AppStatus.newBuilder().setApp(app).setSerial(s.getSerial())
                    .setRelease(cur == null ? "" : cur).setLastOutcome(s.getLast().getOutcome())
                    .setLastError(s.getLast().getError()).setLastReason(s.getLast().getReason())
                    .setLastDeployId(s.getLast().getDeployId()).setLastStartedUnixMs(s.getLast().getStartedUnixMs())
                    .setLastEndedUnixMs(s.getLast().getEndedUnixMs())
                    .setChecksPending(s.hasPending() && s.getPending().getRelease().equals(cur));
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
            // the state may name a release the agent stopped short of switching to (see Recovery)
            b.setManifestDigest(current == null ? (cur == null ? "" : s.getManifestDigest())
                    : ManifestCodec.contentDigest(current));
            if (current == null || !current.hasHealthCheck()) {
                b.setHealth(Health.HEALTH_NONE);
            } else {
                CheckResult last = probeHealth ? postSwitch.health(current, new PostSwitch.Target(node, app,
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

    /**
     * What a deploy of {@code envelope} would do, decided by the deploy's own steps (verify, plan, the clean-up's
     * rule) without doing anything; a manifest the deploy would refuse comes back with {@code refused} set.
     */
    PlanResponse plan(SignedManifest envelope) throws IOException {
        PlanResponse.Builder out = PlanResponse.newBuilder().setNode(node);
        VerifyStep.Baseline b;
        try {
            VerifyStep.Verified v = verify.verify(envelope);
            out.setApp(v.app()).setSerial(v.manifest().getSerial()).setRelease(v.release());
            b = verify.baseline(v);
        } catch (DeployFailure f) {
            return out.setRefused("node " + node + ": " + f.getMessage()).build();
        }
        out.setCurrentRelease(b.current() == null ? "" : b.current());
        try {
            VerifyStep.checkSerial(b);
        } catch (DeployFailure f) {
            out.setRefused("node " + node + ": " + f.getMessage());
        }
        PlanStep.DeployPlan p = plan.decide(b);
        out.setUnchanged(p.unchanged()).setReleaseOnDisk(p.onDisk()).addAllFetch(p.fetch()).setFetchBytes(p.fetchBytes());
        p.needed().forEach(a -> out.addInstall(a.getFilename()));
        out.addAllChanges(PlanStep.changes(b.current() == null ? null
                : Releases.manifestOf(b.layout().release(b.current())), b.verified().manifest()));
        for (Releases.Doomed d : plan.removals(b, p)) {
            out.addRemoveReleases(d.app().equals(b.verified().app()) ? d.id() : d.toString());
        }
        return out.build();
    }

    /** The signed manifest a kept release was built from, exactly as deployed. */
    ReleaseManifestResponse releaseManifest(String app, String release)
            throws DeployEngine.NotFoundException, IOException {
        String why = Names.checkApp(app);
        if (why != null) {
            throw new DeployEngine.NotFoundException("node " + node + ": app: " + why);
        }
        if (!release.matches("[0-9a-f]{16}")) {
            throw new DeployEngine.NotFoundException("node " + node + ": release '" + Names.printable(release)
                    + "' is not a release id (16 lowercase hex characters)");
        }
        Path f = AppLayout.of(root, app).release(release).resolve(Releases.MANIFEST_FILE);
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            throw new DeployEngine.NotFoundException("node " + node + ": app " + app + " has no release " + release);
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
}

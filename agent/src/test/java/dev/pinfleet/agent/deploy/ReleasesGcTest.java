package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.ManualClock;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.trust.Envelope;
import dev.pinfleet.trust.Keys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Garbage collection on a real node root: releases built by the real {@link ReleaseBuilder} from wheels in a
 * real {@link ContentStore}, switched with {@link Releases#switchTo}; the clock that stamps switches is stepped
 * by the test so the order is exact.
 */
class ReleasesGcTest {
    /** Payload bytes per wheel (random, so the store and the cache hold about this much each). */
    static final int PAYLOAD = 64 * 1024;

    @TempDir Path root;
    PythonInfo python;
    ContentStore store;
    ReleaseBuilder builder;
    final KeyPair key = Keys.generate();
    /** Moves one second per read: per switch. */
    final ManualClock clock = new ManualClock(Instant.parse("2030-01-01T00:00:00Z"), java.time.Duration.ofSeconds(1));
    final List<Artifact> wheels = new ArrayList<>();
    final List<Path> files = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        try {
            python = PythonInfo.probe(Path.of("python3"));
        } catch (IOException e) {
            Assumptions.abort("no runnable python3: " + e.getMessage());
        }
        store = new ContentStore(root.resolve("store"));
        builder = new ReleaseBuilder(root.resolve("cache"), python, 2);
        Path inputs = Files.createDirectories(root.resolve("inputs"));
        for (int i = 0; i < 8; i++) {
            Path w = TestWheels.wheel("pkg" + i, "1.0")
                    .file("pkg" + i + "/__init__.py", "N = " + i + "\n")
                    .file("pkg" + i + "/blob.bin", FakeMirror.randomBytes(PAYLOAD, i), 0100644)
                    .build(inputs);
            wheels.add(TestWheels.wheelArtifact(w));
            files.add(w);
        }
    }

    /** Puts a wheel into the store, as a fetch would. */
    private void fetch(int i) throws IOException {
        Artifact a = wheels.get(i);
        if (!store.contains(a.getSha256(), a.getSize())) {
            store.commit(Files.copy(files.get(i), store.tmpDir().resolve("in-" + i)), a.getSha256());
        }
    }

    private Releases releases(int keep, long maxBytes) {
        return new Releases(root, keep, maxBytes, store, builder, clock);
    }

    /** Builds the release of {@code app} with the given wheels (by index), as the deploy engine does; returns its id. */
    private String build(Releases r, String app, int serial, int... wheelIndexes) throws Exception {
        List<Artifact> as = new ArrayList<>();
        for (int i : wheelIndexes) {
            fetch(i);
            as.add(wheels.get(i));
        }
        Manifest m = TestFleet.manifest(app, serial, as).setPython(python.version()).build();
        String id = ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
        AppLayout layout = AppLayout.of(root, app);
        Files.createDirectories(layout.releases());
        builder.build(layout.staging(id), layout.release(id), m, store::path, x -> { });
        r.writeManifest(layout.staging(id), Envelope.sign(ManifestCodec.toJson(m), List.of(key)));
        Files.move(layout.staging(id), layout.release(id));
        return id;
    }

    /** Switches {@code app} to {@code id} and collects garbage, as a deploy does; returns the previous release. */
    private Releases.Collected switchAndCollect(Releases r, String app, String id) throws IOException {
        AppLayout layout = AppLayout.of(root, app);
        String previous = r.currentRelease(layout);
        r.switchTo(layout, id);
        return r.collectGarbage(layout, id, previous);
    }

    private Set<String> storeShas() throws IOException {
        Set<String> out = new HashSet<>();
        try (Stream<Path> s = Files.walk(store.root().resolve("sha256"))) {
            s.filter(Files::isRegularFile).forEach(p -> out.add(p.getFileName().toString()));
        }
        return out;
    }

    private Set<String> cacheShas() throws IOException {
        Set<String> out = new HashSet<>();
        try (Stream<Path> s = Files.list(root.resolve("cache/wheels"))) {
            for (Path prefix : s.filter(p -> !p.getFileName().toString().startsWith(".")).toList()) {
                try (Stream<Path> e = Files.list(prefix)) {
                    e.forEach(p -> out.add(p.getFileName().toString()));
                }
            }
        }
        return out;
    }

    private Set<String> shas(int... wheelIndexes) {
        Set<String> out = new HashSet<>();
        for (int i : wheelIndexes) {
            out.add(wheels.get(i).getSha256());
        }
        return out;
    }

    @Test
    void keepsTheNewestNAndFreesWhatNoKeptReleaseReferences() throws Exception {
        Releases r = releases(3, 0);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(build(r, "shop", i + 1, i, 7));
            switchAndCollect(r, "shop", ids.get(i));
        }
        AppLayout shop = AppLayout.of(root, "shop");
        assertEquals(List.of(ids.get(4), ids.get(3), ids.get(2)), r.list(shop), "newest first, three kept");
        assertEquals(ids.get(4), r.currentRelease(shop));
        assertEquals(shas(2, 3, 4, 7), storeShas(), "the store keeps what the kept releases reference, nothing else");
        assertEquals(shas(2, 3, 4, 7), cacheShas(), "and so does the cache");
        assertEquals("N = 4", TestWheels.run(List.of(shop.current().resolve("bin/python").toString(), "-c",
                "import pkg4; print('N =', pkg4.N)")).strip(), "the current release still runs");
    }

    @Test
    void neverDeletesTheCurrentOrThePreviousRelease() throws Exception {
        Releases r = releases(2, 0);
        AppLayout shop = AppLayout.of(root, "shop");
        String r1 = build(r, "shop", 1, 0);
        switchAndCollect(r, "shop", r1);
        String r2 = build(r, "shop", 2, 1);
        switchAndCollect(r, "shop", r2);
        String r3 = build(r, "shop", 3, 2);
        switchAndCollect(r, "shop", r3);
        assertEquals(List.of(r3, r2), r.list(shop));

        // a rollback to r2, then a deploy of r4: the previous one (r2) survives although two are newer by then
        switchAndCollect(r, "shop", r2);
        String r4 = build(r, "shop", 5, 3);
        // the previous release's switch time is made the oldest of all (a clock set back meanwhile)
        Files.setLastModifiedTime(shop.release(r2), java.nio.file.attribute.FileTime.fromMillis(0));
        assertEquals(List.of("shop/" + r3), r.doomed(shop, r4, r2, null).stream().map(Object::toString).toList(),
                "what a plan predicts before the switch");
        assertEquals(List.of("shop/" + r3), switchAndCollect(r, "shop", r4).removedReleases());
        assertTrue(Files.isDirectory(shop.release(r4)), "current kept");
        assertTrue(Files.isDirectory(shop.release(r2)), "previous kept, however old its switch time");
        assertFalse(Files.exists(shop.release(r3)), "beyond keep-releases=2 and neither current nor previous");
        assertEquals(shas(1, 3), storeShas());
    }

    @Test
    void sizeCapDropsTheOldestUnprotectedReleasesOfAnyAppFirst() throws Exception {
        Releases unlimited = releases(10, 0);
        String a1 = build(unlimited, "alpha", 1, 0);
        switchAndCollect(unlimited, "alpha", a1);
        String b1 = build(unlimited, "beta", 1, 1);
        switchAndCollect(unlimited, "beta", b1);
        String a2 = build(unlimited, "alpha", 2, 2);
        switchAndCollect(unlimited, "alpha", a2);
        String b2 = build(unlimited, "beta", 2, 3);
        switchAndCollect(unlimited, "beta", b2);
        String a3 = build(unlimited, "alpha", 3, 4);
        switchAndCollect(unlimited, "alpha", a3);
        String b3 = build(unlimited, "beta", 3, 5);
        switchAndCollect(unlimited, "beta", b3);
        long perWheel = unlimited.bytes() / 6;
        assertTrue(perWheel >= 2L * PAYLOAD - 1024, "store plus cache hold each payload twice: " + perWheel);

        // room for five wheels: a1 (the oldest release, neither current nor previous of alpha) has to go
        Releases capped = releases(10, 5 * perWheel + perWheel / 2);
        String a4 = build(capped, "alpha", 4, 6);
        Releases.Collected c = switchAndCollect(capped, "alpha", a4);
        // seven wheels now; protected: alpha a4 (current), a3 (previous); beta b3 (current), b2 (previous)
        assertEquals(List.of("alpha/" + a1, "beta/" + b1), c.removedReleases(), "oldest first, across apps");
        assertTrue(c.bytesAfter() <= 5 * perWheel + perWheel / 2, "under the cap after: " + c.bytesAfter());
        assertEquals(List.of(a4, a3, a2), capped.list(AppLayout.of(root, "alpha")));
        assertEquals(List.of(b3, b2), capped.list(AppLayout.of(root, "beta")));
        assertEquals(shas(2, 3, 4, 5, 6), storeShas());
        assertEquals(shas(2, 3, 4, 5, 6), cacheShas());
        assertEquals(c.bytesAfter(), new Footprint(root, store).of(wheels.subList(2, 7), Set.of()),
                "the size rule's model of the kept releases is what store and cache really hold");
    }

    @Test
    void sizeCapNeverTakesCurrentOrPreviousEvenWhenItCannotBeMet() throws Exception {
        Releases r = releases(10, 1);
        String r1 = build(r, "shop", 1, 0, 1);
        switchAndCollect(r, "shop", r1);
        String r2 = build(r, "shop", 2, 2, 3);
        switchAndCollect(r, "shop", r2);
        String r3 = build(r, "shop", 3, 4, 5);
        Releases.Collected c = switchAndCollect(r, "shop", r3);
        assertEquals(List.of("shop/" + r1), c.removedReleases());
        assertEquals(List.of(r3, r2), r.list(AppLayout.of(root, "shop")), "current and previous stay, over the cap");
        assertTrue(c.bytesAfter() > 1);
        assertEquals(shas(2, 3, 4, 5), storeShas());
    }

    @Test
    void aCollectionThatCanFreeNothingSkipsThePruneYetNeverMissesWhatArrivedSince() throws Exception {
        Releases r = releases(2, 0);
        String r1 = build(r, "shop", 1, 0);
        switchAndCollect(r, "shop", r1);
        String r2 = build(r, "shop", 2, 1);
        switchAndCollect(r, "shop", r2);
        assertEquals(shas(0, 1), storeShas());

        // a rollback: no release removed, nothing fetched or unpacked since the last prune, so it prunes nothing;
        // it does not even walk store and cache: a file planted there behind the agent's back stays for now
        Path planted = store.path(wheels.get(6).getSha256());
        Files.createDirectories(planted.getParent());
        Files.copy(files.get(6), planted);
        Releases.Collected c = switchAndCollect(r, "shop", r1);
        assertEquals(List.of(), c.removedReleases());
        assertEquals(0, c.storeBytesFreed());
        assertTrue(Files.exists(planted), "no walk of the store when nothing can be freed");

        // a wheel fetched by a deploy that then failed: the next collection removes no release, yet frees it
        fetch(7);
        c = switchAndCollect(r, "shop", r2);
        assertEquals(List.of(), c.removedReleases());
        assertEquals(shas(0, 1), storeShas(), "the fetched wheel (and the planted file) freed");
        assertTrue(c.storeBytesFreed() > 0);

        // a wheel unpacked into the cache for a deploy that failed (still unpacking, maybe, when a collection runs):
        // collections go on pruning until it is gone, however the unpack and they interleave
        builder.prepare(wheels.get(5), files.get(5));
        Path unpacks = root.resolve("cache/wheels/.tmp");
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60); // a bound, not a verdict
        boolean gone = false;
        for (int i = 0; i < 600 && !gone && System.nanoTime() < deadline; i++) {
            switchAndCollect(r, "shop", i % 2 == 0 ? r1 : r2);
            try (Stream<Path> left = Files.exists(unpacks) ? Files.list(unpacks) : Stream.empty()) {
                gone = left.findAny().isEmpty() && cacheShas().equals(shas(0, 1));
            }
            if (!gone) {
                Thread.sleep(100);
            }
        }
        assertTrue(gone, "the unpack no release references was pruned");
        assertEquals(shas(0, 1), storeShas());
    }

    @Test
    void aReleaseWithoutAReadableManifestKeepsStoreAndCacheAsTheyAre() throws Exception {
        AppLayout shop = AppLayout.of(root, "shop");
        String r1 = build(releases(5, 0), "shop", 1, 0);
        switchAndCollect(releases(5, 0), "shop", r1);
        Files.delete(shop.release(r1).resolve(Releases.MANIFEST_FILE));
        Releases restarted = releases(5, 0); // an agent started after the damage: it never read r1's manifest
        String r2 = build(restarted, "shop", 2, 1);
        fetch(7); // fetched by a deploy that failed later: garbage, unless the referenced set is unknown
        Releases.Collected c = switchAndCollect(restarted, "shop", r2);
        assertEquals(0, c.storeBytesFreed());
        assertEquals(shas(0, 1, 7), storeShas(), "nothing freed when the referenced set is unknown");
        Files.writeString(shop.release(r1).resolve(Releases.MANIFEST_FILE), "{}");
        assertEquals(0, switchAndCollect(releases(5, 0), "shop", r2).storeBytesFreed(),
                "nor when a manifest does not parse");
        assertEquals(shas(0, 1, 7), storeShas());
        assertEquals(List.of(r2, r1), restarted.list(shop), "and no release was removed");
    }

    @Test
    void removedReleasesGoThroughTheTrashAndTheKeptOnesStayIntact() throws Exception {
        try (Releases r = releases(2, 0)) {
            AppLayout shop = AppLayout.of(root, "shop");
            String r1 = build(r, "shop", 1, 0, 7);
            switchAndCollect(r, "shop", r1);
            String r2 = build(r, "shop", 2, 1, 7);
            switchAndCollect(r, "shop", r2);
            String r3 = build(r, "shop", 3, 2, 7);
            Releases.Collected c = switchAndCollect(r, "shop", r3);
            assertEquals(List.of("shop/" + r1), c.removedReleases());
            assertFalse(Files.exists(shop.release(r1)), "gone from the releases at once");
            List<Path> trashed;
            try (Stream<Path> s = Files.list(r.trashDir())) {
                trashed = s.toList();
            }
            assertEquals(1, trashed.size(), "renamed into the trash, not deleted in the collection: " + trashed);
            assertTrue(Files.isRegularFile(trashed.get(0).resolve(Releases.MANIFEST_FILE)), "whole, until emptied");
            assertEquals(shas(1, 2, 7), storeShas(), "store and cache are freed at once all the same");
            assertEquals(shas(1, 2, 7), cacheShas());

            r.emptyTrash();
            assertTrue(r.awaitTrashEmptied(java.time.Duration.ofSeconds(30)));
            try (Stream<Path> s = Files.list(r.trashDir())) {
                assertEquals(List.of(), s.toList(), "the trash is emptied in the background");
            }
            assertEquals(List.of(r3, r2), r.list(shop));
            for (String id : List.of(r2, r3)) {
                assertEquals("7", TestWheels.run(List.of(shop.release(id).resolve("bin/python").toString(), "-c",
                        "import pkg7; print(pkg7.N)")).strip(), "kept release " + id + " is intact");
            }
        }
    }

    @Test
    void planSaysExactlyWhatTheDeployThenFetchesAndRemoves() throws Exception {
        long perWheel = Files.size(files.get(0)) + PAYLOAD + 1024; // store entry plus unpacked cache entry, roughly
        try (FakeMirror mirror = FakeMirror.start(); TestFleet fleet = new TestFleet(root.resolve("fleet"),
                mirror.baseUri())) {
            for (Path w : files) {
                mirror.put(w.getFileName().toString(), Files.readAllBytes(w));
            }
            // room for four and a half wheels; three releases kept per app
            dev.pinfleet.agent.Agent agent = fleet.start("n1", Map.of("keep-releases", "3",
                    "store-max-bytes", Long.toString(perWheel * 9 / 2)));
            Path node = fleet.root("n1");
            var stub = dev.pinfleet.proto.v1.AgentServiceGrpc.newBlockingStub(fleet.channel(agent));
            List<List<String>> removedPerDeploy = new ArrayList<>();
            List<List<String>> fetchedPerDeploy = new ArrayList<>();
            String[][] steps = {{"beta", "1", "1"}, {"beta", "2", "3"}, {"beta", "3", "5"}, {"beta", "4", "7"},
                {"alpha", "1", "0"}, {"alpha", "2", "2"}, {"alpha", "3", "4"}, {"alpha", "4", "2"},
                {"alpha", "5", "2", "4"}, {"beta", "5", "1"}};
            for (String[] step : steps) {
                List<Artifact> as = new ArrayList<>();
                for (int i = 2; i < step.length; i++) {
                    as.add(wheels.get(Integer.parseInt(step[i])));
                }
                var env = fleet.sign(TestFleet.manifest(step[0], Long.parseLong(step[1]), as).build());
                dev.pinfleet.proto.v1.PlanResponse plan = stub.plan(dev.pinfleet.proto.v1.PlanRequest.newBuilder()
                        .setManifest(env).build());
                assertEquals("", plan.getRefused());
                List<String> predicted = plan.getRemoveReleasesList().stream()
                        .map(r -> r.contains("/") ? r : step[0] + "/" + r).sorted().toList();
                Set<String> before = onDisk(node);
                Map<String, Integer> requestsBefore = new java.util.HashMap<>();
                for (Path w : files) {
                    requestsBefore.put(w.getFileName().toString(), mirror.requests(w.getFileName().toString()));
                }
                var report = fleet.deploy(agent, env).report();
                assertEquals(dev.pinfleet.proto.v1.Outcome.OK, report.getOutcome(), report.getError());
                List<String> requested = requestsBefore.keySet().stream()
                        .filter(f -> mirror.requests(f) > requestsBefore.get(f)).sorted().toList();
                List<String> planned = plan.getFetchList().stream().map(Artifact::getFilename).sorted().toList();
                assertEquals(planned, requested, "step " + String.join(" ", step) + ": downloaded what plan said");
                assertEquals(planned, report.getArtifactsList().stream()
                        .filter(a -> a.getSource() == dev.pinfleet.proto.v1.Source.MIRROR)
                        .map(dev.pinfleet.proto.v1.ArtifactResult::getFilename).sorted().toList());
                assertEquals(plan.getFetchList().stream().mapToLong(Artifact::getSize).sum(), plan.getFetchBytes());
                fetchedPerDeploy.add(planned.stream().map(f -> f.replaceAll("-.*", "")).toList());
                Set<String> gone = new java.util.TreeSet<>(before);
                gone.removeAll(onDisk(node));
                assertEquals(predicted, List.copyOf(gone), "step " + String.join(" ", step) + ": plan said "
                        + plan.getRemoveReleasesList());
                removedPerDeploy.add(predicted);
                assertTrue(agent.engine().awaitTrashEmptied(java.time.Duration.ofSeconds(30)));
            }
            String b1 = "beta/" + plannedId("beta", 1);
            String b2 = "beta/" + plannedId("beta", 3);
            String b3 = "beta/" + plannedId("beta", 5);
            String a1 = "alpha/" + plannedId("alpha", 0);
            assertEquals(List.of(List.of(), List.of(), List.of(), List.of(b1), List.of(), List.of(b2), List.of(a1),
                    List.of(), List.of(), List.of(b3)), removedPerDeploy,
                    "keep-releases, then the size cap across apps, then within the deploying app");
            assertEquals(List.of(List.of("pkg1"), List.of("pkg3"), List.of("pkg5"), List.of("pkg7"), List.of("pkg0"),
                    List.of("pkg2"), List.of("pkg4"), List.of(), List.of(), List.of("pkg1")), fetchedPerDeploy,
                    "a wheel is fetched once while a kept release references it, again after it was freed");
            try (Stream<Path> s = Files.list(node.resolve("trash"))) {
                assertEquals(List.of(), s.toList());
            }
        }
    }

    /** The release id of a one-wheel release of {@code app} (ids do not depend on the serial). */
    private String plannedId(String app, int wheel) {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(TestFleet.manifest(app, 1,
                List.of(wheels.get(wheel))).build()));
    }

    /** APP/ID of every release on a node. */
    private static Set<String> onDisk(Path node) throws IOException {
        Set<String> out = new java.util.TreeSet<>();
        Path apps = node.resolve("apps");
        if (Files.isDirectory(apps)) {
            try (Stream<Path> s = Files.list(apps)) {
                for (Path app : s.toList()) {
                    try (Stream<Path> r = Files.list(app.resolve("releases"))) {
                        r.filter(p -> !p.getFileName().toString().startsWith("."))
                                .forEach(p -> out.add(app.getFileName() + "/" + p.getFileName()));
                    }
                }
            }
        }
        return out;
    }

    private static long storeMaxBytes(String value) throws IOException {
        return AgentConfig.load(null, Map.of("mirrors", "http://127.0.0.1:9/", "plaintext", "true",
                "listen", "127.0.0.1:0", "store-max-bytes", value)).storeMaxBytes();
    }

    @Test
    void storeMaxBytesIsConfiguredInBytesOrWithASuffix() throws Exception {
        assertEquals(0, AgentConfig.load(null, Map.of("mirrors", "http://127.0.0.1:9/", "plaintext", "true",
                "listen", "127.0.0.1:0")).storeMaxBytes(), "no cap by default");
        assertEquals(1536, storeMaxBytes("1536"));
        assertEquals(20L << 30, storeMaxBytes("20G"));
        assertEquals(512L << 20, storeMaxBytes("512m"));
        for (String bad : List.of("lots", "-5", "1.5G", "99999999999T")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> storeMaxBytes(bad));
            assertTrue(e.getMessage().startsWith("store-max-bytes: '" + bad + "'"), e.getMessage());
        }
    }
}

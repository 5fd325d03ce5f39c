package dev.pinfleet.agent.threat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.deploy.AppLayout;
import dev.pinfleet.agent.deploy.Releases;
import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.agent.install.PythonInfo;
import dev.pinfleet.agent.install.ReleaseBuilder;
import dev.pinfleet.agent.testing.CleanRoot;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Threat model, <b>Crashes and state</b>: `current` switches atomically. A real agent builds two releases by real
 * deploys; then, while another process (python) resolves `current` in a tight loop, the agent's own switch
 * ({@link Releases#switchTo}, what every deploy and rollback calls) flips `current` between the two releases a
 * thousand times, next to a half-built {@code .staging-*} release. The reader opens {@code current} as a directory
 * (one resolution of the link), reads the release marker and opens {@code bin/python} through that directory, and
 * also opens {@code current/bin/python} and {@code current/.pinfleet/release.json} by path. It must never find
 * `current` missing, never land in anything but one of the two complete releases, and never read a marker naming
 * another release than the directory it was read from. A switch that deletes the link and creates it again fails
 * this (the reader sees `current` missing); see docs/threat-model.md.
 */
@Timeout(300)
class AtomicSwitchThreatTest {
    private static final int SWITCHES = 1000;
    private static final long SWITCH_SECONDS = 120;

    /**
     * The reader: {@code APP_DIR STOP_FILE MAX_SECONDS ID=DIGEST...}. Prints "ready" after its first complete read,
     * then reads until STOP_FILE exists (or MAX_SECONDS, or 50 million rounds) and prints one JSON line: rounds,
     * reads per release, the number of violations and the first ten.
     */
    private static final String READER = """
            import json, os, sys, time
            app, stop, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
            want = dict(a.split('=', 1) for a in sys.argv[4:])
            current = os.path.join(app, 'current')
            seen = {k: 0 for k in want}
            bad, count = [], 0
            def violation(text):
                global count
                count += 1
                if len(bad) < 10:
                    bad.append(text)
            def digest(raw):
                return json.loads(raw)['manifest_digest']
            deadline = time.monotonic() + limit
            rounds = 0
            while rounds < 50_000_000 and time.monotonic() < deadline:
                rounds += 1
                try:
                    fd = os.open(current, os.O_RDONLY | os.O_DIRECTORY)
                except OSError as e:
                    violation('current: ' + repr(e))
                    continue
                try:
                    real = os.readlink('/proc/self/fd/%d' % fd)
                    rid = os.path.basename(real)
                    if rid not in want or os.path.dirname(real) != os.path.join(app, 'releases'):
                        violation('current resolved to ' + real)
                        continue
                    m = os.open('.pinfleet/release.json', os.O_RDONLY, dir_fd=fd)
                    try:
                        raw = os.read(m, 1 << 20)
                    finally:
                        os.close(m)
                    if digest(raw) != want[rid]:
                        violation('the marker read through ' + real + ' names ' + digest(raw))
                        continue
                    p = os.open('bin/python', os.O_RDONLY, dir_fd=fd)
                    os.close(p)
                    seen[rid] += 1
                except (OSError, ValueError, KeyError) as e:
                    violation('through ' + current + ': ' + repr(e))
                finally:
                    os.close(fd)
                try:
                    with open(os.path.join(current, 'bin', 'python'), 'rb') as f:
                        f.read(4)
                    with open(os.path.join(current, '.pinfleet', 'release.json'), 'rb') as f:
                        if digest(f.read()) not in want.values():
                            violation('current/.pinfleet/release.json names another release')
                except (OSError, ValueError, KeyError) as e:
                    violation('by path: ' + repr(e))
                if rounds == 1:
                    print('ready', flush=True)
                if rounds % 64 == 0 and os.path.exists(stop):
                    break
            print(json.dumps({'rounds': rounds, 'seen': seen, 'violations': count, 'first': bad}), flush=True)
            """;

    @TempDir
    Path dir;

    @Test
    void anotherProcessResolvingCurrentNeverSeesItMissingHalfBuiltOrMixedWhileItSwitchesAThousandTimes()
            throws Exception {
        String python = TestWheels.run(List.of("python3", "-c", "import sys; print(sys.executable)")).strip();
        Path wheels = Files.createDirectories(dir.resolve("wheels"));
        Path root;
        Manifest v1;
        Manifest v2;
        try (FakeMirror mirror = FakeMirror.start();
             TestFleet fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri())) {
            var a1 = publish(mirror, TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n")
                    .build(wheels));
            var a2 = publish(mirror, TestWheels.wheel("shoplib", "2.0").file("shoplib/__init__.py", "V = 2\n")
                    .build(wheels));
            var agent = fleet.start("n1", Map.of("python", python));
            v1 = TestFleet.manifest("shop", 1, List.of(a1)).build();
            v2 = TestFleet.manifest("shop", 2, List.of(a2)).build();
            for (Manifest m : List.of(v1, v2)) {
                DeployReport r = fleet.deploy(agent, fleet.sign(m)).report();
                assertEquals(Outcome.OK, r.getOutcome(), r.getError());
            }
            root = fleet.root("n1");
        }
        AppLayout shop = AppLayout.of(root, "shop");
        String r1 = release(v1);
        String r2 = release(v2);
        // a release being built next to them: never a place `current` may lead to
        Path halfBuilt = shop.staging(release(TestFleet.manifest("shop", 3, List.of()).build()));
        Files.createDirectories(halfBuilt.resolve("bin"));
        Files.writeString(halfBuilt.resolve("bin/python"), "half\n");

        Path stop = dir.resolve("stop-reading");
        Process reader = new ProcessBuilder(python, "-c", READER, shop.dir().toString(), stop.toString(), "240",
                r1 + "=" + ManifestCodec.contentDigest(v1), r2 + "=" + ManifestCodec.contentDigest(v2))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(reader.getInputStream(),
                    StandardCharsets.UTF_8));
            String first = CompletableFuture.supplyAsync(() -> readLine(out)).get(60, TimeUnit.SECONDS);
            assertEquals("ready", first, "the reader did not start");
            CompletableFuture<List<String>> lines = CompletableFuture.supplyAsync(() -> readAll(out));

            Releases releases = new Releases(root, 3, new ContentStore(root.resolve("store")),
                    new ReleaseBuilder(root.resolve("cache"), PythonInfo.probe(Path.of(python)), 1));
            int switched = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(SWITCH_SECONDS);
            while (switched < SWITCHES && System.nanoTime() < deadline) {
                releases.switchTo(shop, switched % 2 == 0 ? r1 : r2);
                switched++;
            }
            Files.createFile(stop);
            assertTrue(reader.waitFor(60, TimeUnit.SECONDS), "the reader did not stop");
            List<String> rest = lines.get(10, TimeUnit.SECONDS);
            String summary = rest.isEmpty() ? "(nothing)" : rest.get(rest.size() - 1);
            System.out.println("AtomicSwitchThreatTest: " + switched + " switches; reader: " + summary);

            assertEquals(SWITCHES, switched, "the switches did not finish within " + SWITCH_SECONDS + " s");
            assertTrue(summary.contains("\"violations\": 0,"), "the reader saw `current` broken: " + summary);
            assertTrue(seen(summary, r1) >= 10 && seen(summary, r2) >= 10,
                    "the reader saw both releases through `current` while it switched: " + summary);
        } finally {
            if (reader.isAlive()) {
                reader.destroyForcibly();
                reader.waitFor(10, TimeUnit.SECONDS);
            }
        }
        assertEquals(r2, Files.readSymbolicLink(shop.current()).getFileName().toString(), "the last switch holds");
        dev.pinfleet.fs.Durable.deleteTree(halfBuilt);
        CleanRoot.assertNothingHalfWritten(root); // no temporary link left beside `current`
    }

    private static dev.pinfleet.proto.v1.Artifact publish(FakeMirror mirror, Path wheel) throws IOException {
        mirror.put(wheel.getFileName().toString(), Files.readAllBytes(wheel));
        return TestWheels.wheelArtifact(wheel);
    }

    private static String release(Manifest m) {
        return ManifestCodec.releaseId(ManifestCodec.contentDigest(m));
    }

    /** Reads through {@code release} in the reader's summary line. */
    private static long seen(String summary, String release) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + release + "\": (\\d+)").matcher(summary);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    private static String readLine(BufferedReader in) {
        try {
            return in.readLine();
        } catch (IOException e) {
            return "(reader output: " + e + ")";
        }
    }

    private static List<String> readAll(BufferedReader in) {
        List<String> lines = new ArrayList<>();
        try {
            for (String l; lines.size() < 1000 && (l = in.readLine()) != null; ) {
                lines.add(l);
            }
        } catch (IOException e) {
            lines.add("(reader output: " + e + ")");
        }
        return lines;
    }
}

package dev.pinfleet.mirror.publish;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.audit.AuditLog;
import dev.pinfleet.wheel.WheelMetadata;
import dev.pinfleet.wheel.testing.HostileWheels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PublisherTest {
    @TempDir
    Path tmp;

    private final Publisher publisher =
            new Publisher(Clock.fixed(Instant.parse("2024-05-06T07:08:09.123Z"), ZoneOffset.UTC));

    private Path mirror() {
        return tmp.resolve("mirror");
    }

    @Test
    void publishPlacesTheFileWritesTheAuditLineAndTheIndex() throws Exception {
        Path whl = TestWheels.wheel(tmp.resolve("in"), "Demo_Pkg", "1.0", ">=3.8", Map.of("demo.py", "x=1\n"));
        String sha = Hashing.sha256Hex(whl);

        PublishResult r = publisher.publish(mirror(), whl, "alice", "policy-7");

        String rel = "packages/demo-pkg/demo_pkg-1.0-py3-none-any.whl";
        assertEquals(new PublishResult(rel, sha, Files.size(whl), PublishResult.Outcome.PUBLISHED), r);
        assertArrayEquals(Files.readAllBytes(whl), Files.readAllBytes(mirror().resolve(rel)));
        assertEquals(List.of("{\"time\":\"2024-05-06T07:08:09.123Z\",\"user\":\"alice\",\"file\":\"" + rel
                + "\",\"sha256\":\"" + sha + "\",\"size\":" + Files.size(whl) + ",\"policy\":\"policy-7\"}"),
                Files.readAllLines(mirror().resolve("audit.log")));
        assertTrue(Files.readString(mirror().resolve("simple/demo-pkg/index.html")).contains("#sha256=" + sha));
        assertEquals(List.of(), tempFiles());
        WheelMetadata checked = WheelValidator.validate(whl, whl.getFileName().toString());
        assertEquals(List.of("Demo_Pkg", "1.0"), List.of(checked.name(), checked.version()),
                "the validator gives the METADATA it checked");
    }

    @Test
    void sameBytesAgainIsANoOpWithoutAnAuditLine() throws Exception {
        Path whl = TestWheels.wheel(tmp.resolve("in"), "demo", "1.0", "", Map.of("demo.py", ""));
        publisher.publish(mirror(), whl, "alice", "1");
        PublishResult again = publisher.publish(mirror(), whl, "bob", "1");
        assertEquals(PublishResult.Outcome.UNCHANGED, again.outcome());
        assertEquals(1, Files.readAllLines(mirror().resolve("audit.log")).size());
    }

    @Test
    void differentBytesUnderAPublishedNameAreRefusedAndTheFileIsUntouched() throws Exception {
        Path first = TestWheels.wheel(tmp.resolve("a"), "demo", "1.0", "", Map.of("demo.py", "one\n"));
        Path second = TestWheels.wheel(tmp.resolve("b"), "demo", "1.0", "", Map.of("demo.py", "two\n"));
        publisher.publish(mirror(), first, "alice", "1");
        Path placed = mirror().resolve("packages/demo/demo-1.0-py3-none-any.whl");
        byte[] before = Files.readAllBytes(placed);

        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publish(mirror(), second, "mallory", "1"));

        assertEquals(PublishException.Reason.CONFLICT, e.reason());
        assertEquals("demo-1.0-py3-none-any.whl", e.fileName(), "the upload endpoint names the refused file");
        assertTrue(e.getMessage().contains("demo-1.0-py3-none-any.whl"), e.getMessage());
        assertTrue(e.getMessage().contains(Hashing.sha256Hex(first)), e.getMessage());
        assertTrue(e.getMessage().contains(Hashing.sha256Hex(second)), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(placed));
        assertEquals(1, Files.readAllLines(mirror().resolve("audit.log")).size());
        assertEquals(List.of(), tempFiles());
    }

    @Test
    void metadataNameThatDisagreesWithTheFileNameIsRefused() throws Exception {
        Path whl = TestWheels.custom(tmp.resolve("in"), "demo-1.0-py3-none-any.whl", "demo-1.0.dist-info",
                TestWheels.metadata("evil", "1.0", ""), Map.of("demo.py", ""));
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publish(mirror(), whl, "alice", "1"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
        assertTrue(e.getMessage().contains("evil"), e.getMessage());
        assertFalse(Files.exists(mirror().resolve("packages/demo/demo-1.0-py3-none-any.whl")));
        assertEquals(List.of(), tempFiles());
    }

    @Test
    void distInfoDirectoryForAnotherProjectIsRefused() throws Exception {
        Path whl = TestWheels.custom(tmp.resolve("in"), "demo-1.0-py3-none-any.whl", "evil-1.0.dist-info",
                TestWheels.metadata("demo", "1.0", ""), Map.of("demo.py", ""));
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publish(mirror(), whl, "alice", "1"));
        assertTrue(e.getMessage().contains("entry 'evil-1.0.dist-info': does not belong to distribution demo"),
                e.getMessage());
    }

    @Test
    void metadataVersionThatDisagreesIsRefused() throws Exception {
        Path whl = TestWheels.custom(tmp.resolve("in"), "demo-1.0-py3-none-any.whl", "demo-1.0.dist-info",
                TestWheels.metadata("demo", "2.0", ""), Map.of("demo.py", ""));
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publish(mirror(), whl, "alice", "1"));
        assertTrue(e.getMessage().contains("names demo 2.0, but the file name is for demo 1.0"), e.getMessage());
    }

    @Test
    void corruptZipIsRefused() throws Exception {
        byte[] noise = new byte[6000];
        new Random(7).nextBytes(noise);
        String text = Base64.getEncoder().encodeToString(noise); // barely compressible: the data spans bytes 37..
        Path whl = TestWheels.wheel(tmp.resolve("in"), "demo", "1.0", "", Map.of("demo.py", text));
        byte[] bytes = Files.readAllBytes(whl);
        bytes[1000] ^= 0x55; // inside the first entry's compressed data
        Files.write(whl, bytes);
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publish(mirror(), whl, "alice", "1"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
        assertTrue(e.getMessage().startsWith("demo-1.0-py3-none-any.whl: "), e.getMessage());

        Path truncated = tmp.resolve("in2/demo-2.0-py3-none-any.whl");
        Files.createDirectories(truncated.getParent());
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length / 2));
        e = assertThrows(PublishException.class, () -> publisher.publish(mirror(), truncated, "alice", "1"));
        assertTrue(e.getMessage().contains("not a zip file"), e.getMessage());
        assertEquals(List.of(true, true), AuditLog.read(mirror()).stream().map(l -> l.record().isRefusal()).toList(),
                "both audited as refusals, neither as a publish");
    }

    @Test
    void missingRecordAndUnlistedOrTamperedEntriesAreRefused() throws Exception {
        Path noRecord = tmp.resolve("in/demo-1.0-py3-none-any.whl");
        Files.createDirectories(noRecord.getParent());
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(noRecord))) {
            z.putNextEntry(new ZipEntry("demo-1.0.dist-info/METADATA"));
            z.write(TestWheels.metadata("demo", "1.0", "").getBytes());
            z.putNextEntry(new ZipEntry("demo-1.0.dist-info/WHEEL"));
            z.write("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n".getBytes());
        }
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publish(mirror(), noRecord, "alice", "1"));
        assertTrue(e.getMessage().contains("entry 'demo-1.0.dist-info/RECORD': missing"), e.getMessage());

        Path unlisted = TestWheels.custom(tmp.resolve("in3"), "demo-1.0-py3-none-any.whl", "demo-1.0.dist-info",
                TestWheels.metadata("demo", "1.0", ""), Map.of("demo.py", ""));
        Path withExtra = tmp.resolve("in4/demo-1.0-py3-none-any.whl");
        Files.createDirectories(withExtra.getParent());
        try (ZipFile in = new ZipFile(unlisted.toFile());
             ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(withExtra))) {
            for (ZipEntry entry : Collections.list(in.entries())) {
                z.putNextEntry(new ZipEntry(entry.getName()));
                byte[] data = in.getInputStream(entry).readAllBytes();
                if (entry.getName().equals("demo.py")) {
                    data = "tampered".getBytes();
                }
                z.write(data);
            }
        }
        e = assertThrows(PublishException.class, () -> publisher.publish(mirror(), withExtra, "alice", "1"));
        assertTrue(e.getMessage().contains("entry 'demo.py': has 8 bytes, demo-1.0.dist-info/RECORD says 0"),
                e.getMessage());
    }

    /**
     * The three wheels every agent refuses, which the publisher used to accept and audit (the bomb after 14 s of
     * inflating it): refused naming the entry and the rule, the link and the bomb before a byte of them is
     * inflated, and nothing written to the audit log or packages/.
     */
    @Test
    void wheelsEveryAgentRefusesAreRefusedBeforeInflatingAndLeaveNoTrace() throws Exception {
        HostileWheels hostile = HostileWheels.write(Files.createDirectories(tmp.resolve("hostile")));

        PublishException e = refusedBeforeInflating(hostile.link());
        assertTrue(e.getMessage().contains("linky-1.0-py3-none-any.whl: entry 'linky/passwd': symbolic link entries "
                + "are not allowed"), e.getMessage());
        e = assertThrows(PublishException.class, () -> publisher.publish(mirror(), hostile.script(), "alice", "1"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
        assertTrue(e.getMessage().contains("entry 'scripty-1.0.dist-info/entry_points.txt': entry point name "
                + "'../../x' refused"), e.getMessage());
        e = refusedBeforeInflating(hostile.bomb());
        assertTrue(e.getMessage().contains("bomby-1.0-py3-none-any.whl: entry 'bomby/zeros.bin': compression ratio "
                + "1028:1 (2147483648 bytes from "), e.getMessage());
        assertTrue(e.getMessage().contains("exceeds the limit of 200:1 (zip bomb guard)"), e.getMessage());

        List<AuditLog.Line> audit = AuditLog.read(mirror());
        assertEquals(List.of("packages/linky/linky-1.0-py3-none-any.whl", "packages/scripty/scripty-1.0-py3-none-any.whl",
                "packages/bomby/bomby-1.0-py3-none-any.whl"), audit.stream().map(l -> l.record().file()).toList(),
                "each refusal is audited, in order");
        for (AuditLog.Line l : audit) {
            assertTrue(l.record().isRefusal(), "a refusal, not a publish: " + l);
            assertEquals("alice", l.record().user());
        }
        assertTrue(audit.get(2).record().refused().contains("compression ratio 1028:1"), audit.get(2).toString());
        assertEquals(Hashing.sha256Hex(hostile.bomb()), audit.get(2).record().sha256(), "the bytes that were offered");
        assertFalse(Files.exists(mirror().resolve("packages")), "nothing placed, not even a project directory");
        assertEquals(List.of(), tempFiles());
    }

    private PublishException refusedBeforeInflating(Path wheel) {
        PublishException e = assertThrows(PublishException.class, () -> publisher.publish(mirror(), wheel, "alice", "1"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
        ArchiveException cause = assertInstanceOf(ArchiveException.class, e.getCause(), e.getMessage());
        assertEquals(0, cause.inflatedBytes(), "refused from the central directory, before any byte was inflated");
        return e;
    }

    @Test
    void notAWheelNameIsRefused() throws Exception {
        Path f = tmp.resolve("in/readme.txt");
        Files.createDirectories(f.getParent());
        Files.writeString(f, "hi");
        PublishException e = assertThrows(PublishException.class, () -> publisher.publish(mirror(), f, "a", "1"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
    }

    @Test
    void batchIsAllOrNothingAndRebuildsTheIndexOnce() throws Exception {
        Path a = TestWheels.wheel(tmp.resolve("in"), "alpha", "1.0", "", Map.of("alpha.py", ""));
        Path b = TestWheels.wheel(tmp.resolve("in"), "beta", "2.0", "", Map.of("beta.py", ""));
        Path bad = TestWheels.custom(tmp.resolve("in"), "gamma-1.0-py3-none-any.whl", "gamma-1.0.dist-info",
                TestWheels.metadata("delta", "1.0", ""), Map.of());

        assertThrows(PublishException.class, () -> publisher.publishAll(mirror(), List.of(a, b, bad), "ci", "3"));
        assertFalse(Files.exists(mirror().resolve("packages/alpha/alpha-1.0-py3-none-any.whl")));

        List<PublishResult> ok = publisher.publishAll(mirror(), List.of(a, b), "ci", "3");
        assertEquals(2, ok.size());
        assertEquals(List.of("refused packages/gamma/gamma-1.0-py3-none-any.whl",
                "published packages/alpha/alpha-1.0-py3-none-any.whl", "published packages/beta/beta-2.0-py3-none-any.whl"),
                AuditLog.read(mirror()).stream().map(l -> (l.record().isRefusal() ? "refused " : "published ")
                        + l.record().file()).toList());
        String root = Files.readString(mirror().resolve("simple/index.html"));
        assertTrue(root.contains("alpha/") && root.contains("beta/"), root);
        assertEquals(List.of(), tempFiles());
    }

    @Test
    void theSameFileTwiceInOneRequestIsRefusedNamingIt() throws Exception {
        Path a = TestWheels.wheel(tmp.resolve("in"), "alpha", "1.0", "", Map.of("alpha.py", ""));
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publishAll(mirror(), List.of(a, a), "ci", "3"));
        assertEquals(PublishException.Reason.INVALID, e.reason());
        assertEquals("alpha-1.0-py3-none-any.whl", e.fileName());
        assertTrue(e.getMessage().contains("alpha-1.0-py3-none-any.whl appears twice in one publish request"),
                e.getMessage());
        assertFalse(Files.exists(mirror().resolve("packages/alpha")));
        assertEquals(List.of(), tempFiles());
    }

    @Test
    void aPublishWithoutAUserTheAuditLogCanRecordTouchesNothing() throws Exception {
        Path whl = TestWheels.wheel(tmp.resolve("in"), "demo", "1.0", "", Map.of("demo.py", ""));
        for (String user : Arrays.asList(null, "", "  ", "ali\nce", "bob\u001b[2J")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> publisher.publish(mirror(), whl, user, "1"), String.valueOf(user));
            assertTrue(e.getMessage().contains(user == null || user.isBlank()
                    ? "a publish needs a user for the audit log" : "contains control characters"), e.getMessage());
            // asked before anything is written: not even the mirror directory is created
            assertFalse(Files.exists(mirror()), String.valueOf(user));
        }
    }

    @Test
    void concurrentPublishersNeverLoseAFileFromTheIndex() throws Exception {
        int n = 12;
        List<Path> wheels = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            wheels.add(TestWheels.wheel(tmp.resolve("in" + i), "pkg" + i, "1.0", "", Map.of("m" + i + ".py", "")));
        }
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Future<PublishResult>> futures = new ArrayList<>();
            for (Path w : wheels) {
                futures.add(pool.submit(() -> new Publisher().publish(mirror(), w, "ci", "1")));
            }
            for (Future<PublishResult> f : futures) {
                assertEquals(PublishResult.Outcome.PUBLISHED, f.get(60, TimeUnit.SECONDS).outcome());
            }
        } finally {
            pool.shutdownNow();
        }
        String root = Files.readString(mirror().resolve("simple/index.html"));
        for (int i = 0; i < n; i++) {
            assertTrue(root.contains("href=\"pkg" + i + "/\""), root);
        }
        assertEquals(n, Files.readAllLines(mirror().resolve("audit.log")).size());
    }

    private List<Path> tempFiles() throws Exception {
        if (!Files.exists(mirror())) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(mirror())) {
            return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }
}

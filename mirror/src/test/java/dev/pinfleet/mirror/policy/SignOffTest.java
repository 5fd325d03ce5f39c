package dev.pinfleet.mirror.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.mirror.TestWheels;
import dev.pinfleet.mirror.publish.PublishException;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.mirror.publish.Publisher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SignOffTest {
    private static final Instant NOW = Instant.parse("2024-05-06T07:08:09Z");

    @TempDir
    Path tmp;
    private Path mirror;
    private Path wheel;
    private final Publisher publisher = new Publisher(Clock.fixed(NOW, ZoneOffset.UTC));

    @BeforeEach
    void setUp() throws Exception {
        mirror = tmp.resolve("mirror");
        wheel = TestWheels.wheel(tmp.resolve("in"), "demo", "1.0", "", Map.of("demo.py", "x = 1\n"));
    }

    @Test
    void initLaysOutTheMirrorAndNeverOverwrites() throws Exception {
        List<String> created = UploadPolicy.init(mirror, null);
        assertEquals(List.of("packages/", "policy/POLICY.md", "policy/version", "uploaders", "simple/index.html"), created);
        assertEquals("1", UploadPolicy.load(mirror).version());
        assertTrue(Files.readString(mirror.resolve("policy/POLICY.md")).contains("append-only"));

        Files.writeString(mirror.resolve("policy/POLICY.md"), "our own policy\n");
        Files.writeString(mirror.resolve("policy/version"), "2024-06\n");
        assertEquals(List.of(), UploadPolicy.init(mirror, "ignored"));
        assertEquals("our own policy\n", Files.readString(mirror.resolve("policy/POLICY.md")));
        assertEquals("2024-06", UploadPolicy.load(mirror).version());
    }

    @Test
    void unknownUploaderIsRefusedWithThePolicyPathVersionAndCommand() throws Exception {
        UploadPolicy.init(mirror, null);
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publishSignedOff(mirror, List.of(wheel), "mallory"));
        assertEquals(PublishException.Reason.NOT_SIGNED_OFF, e.reason());
        assertTrue(e.getMessage().contains("does not list mallory"), e.getMessage());
        assertTrue(e.getMessage().contains(mirror.resolve("policy/POLICY.md") + " (version 1)"), e.getMessage());
        assertTrue(e.getMessage().contains("pinfleet mirror acknowledge --mirror " + mirror + " --as mallory --policy-version 1"),
                e.getMessage());
        assertFalse(Files.exists(mirror.resolve("packages/demo")));
        assertFalse(Files.exists(mirror.resolve("audit.log")));
    }

    @Test
    void acknowledgedUploaderPublishesAndTheAuditLineRecordsThePolicyVersion() throws Exception {
        UploadPolicy.init(mirror, null);
        Uploaders.Entry e = Uploaders.acknowledge(mirror, "alice", "1", NOW);
        assertEquals(new Uploaders.Entry("alice", "1", NOW, 4), e);
        assertEquals(e, Uploaders.acknowledge(mirror, "alice", "1", NOW.plusSeconds(60)), "second sign-off is a no-op");
        assertTrue(Files.readString(mirror.resolve("uploaders")).endsWith("\nalice 1 2024-05-06T07:08:09Z\n"));

        PublishResult r = publisher.publishSignedOff(mirror, List.of(wheel), "alice").get(0);
        assertEquals(PublishResult.Outcome.PUBLISHED, r.outcome());
        String audit = Files.readString(mirror.resolve("audit.log"));
        assertTrue(audit.contains("\"user\":\"alice\"") && audit.endsWith("\"policy\":\"1\"}\n"), audit);
    }

    @Test
    void aSignedOffPublishRecordsWhereEachFileCameFrom() throws Exception {
        UploadPolicy.init(mirror, null);
        Uploaders.acknowledge(mirror, "alice", "1", NOW);
        Path other = TestWheels.wheel(tmp.resolve("in2"), "other", "2.0", "", Map.of("other.py", ""));
        List<PublishResult> r = publisher.publishSignedOff(mirror, List.of(wheel, other), "alice",
                Map.of(wheel, "https://pypi.example/demo-1.0-py3-none-any.whl"));
        assertEquals(List.of("packages/demo/demo-1.0-py3-none-any.whl", "packages/other/other-2.0-py3-none-any.whl"),
                r.stream().map(PublishResult::file).toList());
        List<String> audit = Files.readAllLines(mirror.resolve("audit.log"));
        assertEquals(2, audit.size());
        assertTrue(audit.get(0).endsWith("\"policy\":\"1\",\"source\":\"https://pypi.example/demo-1.0-py3-none-any.whl\"}"),
                audit.get(0));
        assertTrue(audit.get(1).endsWith("\"policy\":\"1\"}"), "a file not in the sources gets none: " + audit.get(1));

        PublishException e = assertThrows(PublishException.class, () -> publisher.publishSignedOff(mirror,
                List.of(other), "mallory", Map.of(other, "https://pypi.example/x.whl")));
        assertEquals(PublishException.Reason.NOT_SIGNED_OFF, e.reason());
        assertEquals(2, Files.readAllLines(mirror.resolve("audit.log")).size());
    }

    @Test
    void aNewPolicyVersionNeedsANewSignOff() throws Exception {
        UploadPolicy.init(mirror, null);
        Uploaders.acknowledge(mirror, "alice", "1", NOW);
        Files.writeString(mirror.resolve("policy/version"), "2\n");

        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publishSignedOff(mirror, List.of(wheel), "alice"));
        assertTrue(e.getMessage().contains("alice signed off upload policy version 1 (" + mirror.resolve("uploaders")
                + ":4), but the current version is 2"), e.getMessage());

        PolicyException wrong = assertThrows(PolicyException.class,
                () -> Uploaders.acknowledge(mirror, "alice", "1", NOW));
        assertTrue(wrong.getMessage().contains("the current version is 2 (" + mirror.resolve("policy/POLICY.md") + ")"),
                wrong.getMessage());

        Uploaders.acknowledge(mirror, "alice", "2", NOW);
        assertEquals(PublishResult.Outcome.PUBLISHED,
                publisher.publishSignedOff(mirror, List.of(wheel), "alice").get(0).outcome());
        assertTrue(Files.readString(mirror.resolve("audit.log")).contains("\"policy\":\"2\""));
    }

    @Test
    void aMirrorWithoutPolicyRefusesEveryone() throws Exception {
        Files.createDirectories(mirror);
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publishSignedOff(mirror, List.of(wheel), "alice"));
        assertEquals(PublishException.Reason.NOT_SIGNED_OFF, e.reason());
        assertTrue(e.getMessage().contains("has no upload policy") && e.getMessage().contains("pinfleet mirror init --mirror " + mirror),
                e.getMessage());
        assertThrows(PolicyException.class, () -> Uploaders.acknowledge(mirror, "alice", "1", NOW));
    }

    @Test
    void aMalformedUploadersFileFailsClosedNamingTheLine() throws Exception {
        UploadPolicy.init(mirror, null);
        Files.writeString(mirror.resolve("uploaders"), "# who\nalice 1\n", java.nio.file.StandardOpenOption.APPEND);
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publishSignedOff(mirror, List.of(wheel), "alice"));
        assertTrue(e.getMessage().contains(mirror.resolve("uploaders") + ":5: expected 'USER POLICY-VERSION TIME'"),
                e.getMessage());
    }

    @Test
    void aPolicyVersionWithoutItsTextIsRefused() throws Exception {
        UploadPolicy.init(mirror, null);
        Files.delete(mirror.resolve("policy/POLICY.md"));
        PolicyException e = assertThrows(PolicyException.class, () -> UploadPolicy.load(mirror));
        assertTrue(e.getMessage().contains("is missing"), e.getMessage());
        Files.writeString(mirror.resolve("policy/POLICY.md"), "text");
        Files.writeString(mirror.resolve("policy/version"), "1 2\n");
        e = assertThrows(PolicyException.class, () -> UploadPolicy.load(mirror));
        assertTrue(e.getMessage().contains("must hold exactly one policy version"), e.getMessage());
    }

    @Test
    void userNamesThatCannotBeListedAreRefused() throws Exception {
        UploadPolicy.init(mirror, null);
        assertThrows(PolicyException.class, () -> Uploaders.acknowledge(mirror, "two words", "1", NOW));
        PublishException e = assertThrows(PublishException.class,
                () -> publisher.publishSignedOff(mirror, List.of(wheel), "two words"));
        assertEquals(PublishException.Reason.NOT_SIGNED_OFF, e.reason());
    }
}

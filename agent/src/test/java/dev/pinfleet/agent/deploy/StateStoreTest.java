package dev.pinfleet.agent.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.agent.state.DeployRecord;
import dev.pinfleet.agent.testing.FakeMirror;
import dev.pinfleet.agent.testing.TestFleet;
import dev.pinfleet.agent.testing.TestWheels;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.AgentServiceGrpc;
import dev.pinfleet.proto.v1.AppStatus;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.Outcome;
import dev.pinfleet.proto.v1.StatusRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's own state record: the format it writes, the format agents wrote before it, and a newer one. */
class StateStoreTest {
    @TempDir Path dir;

    /** What an agent of the first format wrote (JsonFormat of the Status RPC's AppStatus), byte for byte. */
    static String formatOne(String app, long serial, String release, String digest) {
        return "{\n"
                + "  \"app\": \"" + app + "\",\n"
                + "  \"serial\": \"" + serial + "\",\n"
                + "  \"release\": \"" + release + "\",\n"
                + "  \"manifestDigest\": \"" + digest + "\",\n"
                + "  \"lastOutcome\": \"OK\",\n"
                + "  \"releases\": [\"" + release + "\"]\n"
                + "}\n";
    }

    @Test
    void readsTheFirstFormatAndWritesItsOwn() throws Exception {
        AppLayout shop = AppLayout.of(dir, "shop");
        Files.createDirectories(shop.dir());
        String digest = "ab".repeat(32);
        Files.writeString(shop.state(), formatOne("shop", 7, "abababababababab", digest)
                .replace("\"OK\"", "\"REVERTED\",\n  \"lastError\": \"node n1: release x of app shop reverted\""));
        AppState s = StateStore.read(shop, "shop");
        assertEquals(7, s.getSerial());
        assertEquals("abababababababab", s.getRelease());
        assertEquals(digest, s.getManifestDigest());
        assertEquals(Outcome.REVERTED, s.getLast().getOutcome());
        assertEquals("node n1: release x of app shop reverted", s.getLast().getError());
        assertEquals(List.of(s.getLast()), s.getHistoryList());

        StateStore.write(shop, s);
        String written = Files.readString(shop.state(), StandardCharsets.UTF_8);
        assertTrue(written.contains("\"format\": " + StateStore.FORMAT), written);
        assertEquals(s, StateStore.read(shop, "shop"), "what it writes reads back the same");
    }

    @Test
    void aNewerFormatIsRefusedNamingTheFileAndLeftAsItIs() throws Exception {
        AppLayout shop = AppLayout.of(dir, "shop");
        Files.createDirectories(shop.dir());
        String newer = "{\"format\": 3, \"app\": \"shop\", \"serial\": \"9\", \"somethingNew\": true}\n";
        Files.writeString(shop.state(), newer);
        IOException e = assertThrows(IOException.class, () -> StateStore.read(shop, "shop"));
        assertTrue(e.getMessage().startsWith(shop.state() + ": state format 3 is not the format 2"), e.getMessage());
        assertEquals(newer, Files.readString(shop.state()));
        Files.writeString(shop.state(), "{\"serial\": \"9\", \"lastOutcome\": \"OK\"");
        e = assertThrows(IOException.class, () -> StateStore.read(shop, "shop"));
        assertTrue(e.getMessage().startsWith(shop.state() + ": corrupt state: "), e.getMessage());
    }

    @Test
    void historyKeepsTheNewestAttemptsAndOneEntryPerAttempt() {
        AppState.Builder s = AppState.newBuilder().setApp("shop");
        for (int i = 1; i <= StateStore.HISTORY + 5; i++) {
            DeployRecord started = DeployRecord.newBuilder().setDeployId("d" + i).setSerial(i).setStartedUnixMs(1000L * i)
                    .setOutcome(Outcome.OK).build();
            StateStore.attempt(s, started);
            StateStore.attempt(s, started.toBuilder().setEndedUnixMs(1000L * i + 500).build());
        }
        assertEquals(StateStore.HISTORY, s.getHistoryCount());
        assertEquals("d25", s.getLast().getDeployId());
        assertEquals(25_500, s.getLast().getEndedUnixMs());
        assertEquals(s.getLast(), s.getHistory(0));
        assertEquals("d6", s.getHistory(StateStore.HISTORY - 1).getDeployId(), "newest first, the oldest dropped");
    }

    @Test
    void anAgentUpgradedOnARootOfTheFirstFormatKeepsTheSerialAndRecordsDeployIdsAndTimes() throws Exception {
        try (FakeMirror mirror = FakeMirror.start();
                TestFleet fleet = new TestFleet(dir.resolve("fleet"), mirror.baseUri())) {
            Path wheels = Files.createDirectories(dir.resolve("wheels"));
            Path w = TestWheels.wheel("shoplib", "1.0").file("shoplib/__init__.py", "V = 1\n").build(wheels);
            mirror.put(w.getFileName().toString(), Files.readAllBytes(w));
            Artifact a = TestWheels.wheelArtifact(w);
            Manifest m5 = TestFleet.manifest("shop", 5, List.of(a)).build();
            String id = ManifestCodec.releaseId(ManifestCodec.contentDigest(m5));
            Agent first = fleet.start("n1");
            assertEquals(Outcome.OK, fleet.deploy(first, fleet.sign(m5)).report().getOutcome());
            first.close();
            // the state as an agent of the first format left it
            Path state = fleet.root("n1").resolve("apps/shop/state.json");
            Files.writeString(state, formatOne("shop", 5, id, ManifestCodec.contentDigest(m5)));

            Agent upgraded = fleet.start("n1");
            var stub = AgentServiceGrpc.newBlockingStub(fleet.channel(upgraded));
            AppStatus before = stub.status(StatusRequest.newBuilder().setApp("shop").build()).getApps(0);
            assertEquals(5, before.getSerial());
            assertEquals(Outcome.OK, before.getLastOutcome());
            assertEquals("", before.getLastDeployId(), "the first format knew no deploy id");
            HookCommand hook = HookCommand.newBuilder().addArgv("/bin/true").setTimeoutSeconds(5).build();
            DeployReport replay = fleet.deploy(upgraded, fleet.sign(TestFleet.manifest("shop", 5, List.of(a))
                    .setPostSwitchHook(hook).build())).report();
            assertEquals(Outcome.FAILED, replay.getOutcome(), "serial 5 stays consumed: " + replay.getError());
            long t0 = System.currentTimeMillis();
            DeployReport next = fleet.deploy(upgraded, fleet.sign(TestFleet.manifest("shop", 6, List.of(a))
                    .setPostSwitchHook(hook).build())).report();
            assertEquals(Outcome.OK, next.getOutcome(), next.getError());
            long t1 = System.currentTimeMillis();

            AppStatus after = stub.status(StatusRequest.newBuilder().setApp("shop").build()).getApps(0);
            assertEquals(6, after.getSerial());
            assertEquals("test", after.getLastDeployId());
            assertTrue(after.getLastStartedUnixMs() >= t0 && after.getLastStartedUnixMs() <= after.getLastEndedUnixMs()
                    && after.getLastEndedUnixMs() <= t1, after.toString());
            AppState s = StateStore.read(AppLayout.of(fleet.root("n1"), "shop"), "shop");
            assertEquals(List.of(Outcome.OK, Outcome.FAILED, Outcome.OK), s.getHistoryList().stream()
                    .map(DeployRecord::getOutcome).toList(), "newest first: the deploy, the refused replay, then what"
                    + " the first format said");
            assertEquals(List.of(6L, 5L, 5L), s.getHistoryList().stream().map(DeployRecord::getSerial).toList());
            assertTrue(Files.readString(state).contains("\"format\": 2"));
        }
    }
}

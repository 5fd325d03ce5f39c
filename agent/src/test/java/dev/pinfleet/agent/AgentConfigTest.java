package dev.pinfleet.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.fetch.FetchConfig;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fetch-* and grpc-* keys: their defaults, the duration syntax, and errors that name the key. */
class AgentConfigTest {
    private static AgentConfig load(String... keyValues) throws Exception {
        Map<String, String> m = new HashMap<>(Map.of("mirrors", "http://127.0.0.1:8080/", "plaintext", "true"));
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return AgentConfig.load(null, m);
    }

    @Test
    void defaultsAreTheFetchersAndTheDocumentedOnes() throws Exception {
        AgentConfig c = load();
        assertEquals(FetchConfig.defaults(), Agent.fetchConfig(c), "the agent downloads with the fetcher's defaults");
        assertEquals(Duration.ofSeconds(20), c.grpcHandshakeTimeout());
        assertEquals(Duration.ofMinutes(10), c.grpcMaxConnectionIdle());
    }

    @Test
    void durationsTakeAUnitAndABareNumberIsSeconds() throws Exception {
        AgentConfig c = load("fetch-idle-timeout", "750ms", "fetch-request-timeout", "2m", "grpc-max-connection-idle",
                "1h", "grpc-handshake-timeout", "45", "fetch-backoff", "0", "fetch-min-speed", "64K", "fetch-tries", "5");
        FetchConfig f = Agent.fetchConfig(c);
        assertEquals(Duration.ofMillis(750), f.idleTimeout());
        assertEquals(Duration.ofMinutes(2), f.requestTimeout());
        assertEquals(Duration.ZERO, f.backoffBase());
        assertEquals(64 * 1024, f.minSpeed());
        assertEquals(5, f.maxTries());
        assertEquals(Duration.ofHours(1), c.grpcMaxConnectionIdle());
        assertEquals(Duration.ofSeconds(45), c.grpcHandshakeTimeout());
        assertEquals(0, Agent.fetchConfig(load("fetch-min-speed", "0")).minSpeed(), "0 turns the speed floor off");
    }

    @Test
    void badValuesAreRefusedNamingTheKey() {
        for (String[] bad : new String[][] {{"fetch-idle-timeout", "5 parsecs"}, {"fetch-idle-timeout", "0s"},
                {"grpc-handshake-timeout", "-1s"}, {"fetch-request-timeout", ""}, {"fetch-tries", "0"},
                {"fetch-min-speed", "fast"}, {"grpc-max-connection-idle", "99999999999s"}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> load(bad[0], bad[1]),
                    bad[0] + "=" + bad[1]);
            assertTrue(e.getMessage().startsWith(bad[0] + ": "), e.getMessage());
        }
    }
}

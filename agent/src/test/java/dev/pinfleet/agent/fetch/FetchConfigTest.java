package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class FetchConfigTest {

    @Test
    void defaultsAreTheDocumentedOnes() {
        FetchConfig d = FetchConfig.defaults();
        assertEquals(8, d.parallelism());
        assertEquals(3, d.maxTries());
        assertEquals(Duration.ofMillis(500), d.backoffBase());
        assertEquals(Duration.ofSeconds(30), d.idleTimeout());
        assertEquals(Duration.ofMinutes(10), d.requestTimeout());
        assertEquals(1024, d.minSpeed());
    }

    @Test
    void backoffDoublesAndIsCapped() {
        FetchConfig c = new FetchConfig(1, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1), 3,
                Duration.ofSeconds(1));
        assertEquals(Duration.ofSeconds(1), c.backoff(1));
        assertEquals(Duration.ofSeconds(2), c.backoff(2));
        assertEquals(Duration.ofSeconds(16), c.backoff(5));
        assertEquals(FetchConfig.MAX_BACKOFF, c.backoff(6));
        assertEquals(FetchConfig.MAX_BACKOFF, c.backoff(1000));
    }

    @Test
    void invalidValuesAreRefused() {
        Duration s = Duration.ofSeconds(1);
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(0, s, s, s, 3, s));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, Duration.ZERO, s, s, 3, s));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, s, s, 0, s));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, s, s, 3, s.negated()));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, s, s, 3, s, -1));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, Duration.ZERO, s, 3, s));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, s, Duration.ZERO, 3, s));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, s.negated(), s, 3, s));
        assertThrows(IllegalArgumentException.class, () -> new FetchConfig(8, s, s, s.negated(), 3, s));
    }

    @Test
    void parallelismRangesFromOneToTwoHundredFiftySix() {
        Duration s = Duration.ofSeconds(1);
        assertEquals(1, new FetchConfig(1, s, s, s, 3, s).parallelism());
        assertEquals(256, new FetchConfig(256, s, s, s, 3, s).parallelism());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FetchConfig(257, s, s, s, 3, s));
        assertEquals("fetch parallelism must be 1..256, got 257", e.getMessage());
    }

    @Test
    void aZeroBackOffIsAllowedAndABaseAboveTheCapIsItsOwnCap() {
        Duration s = Duration.ofSeconds(1);
        FetchConfig none = new FetchConfig(1, s, s, s, 3, Duration.ZERO);
        assertEquals(Duration.ZERO, none.backoff(1));
        assertEquals(Duration.ZERO, none.backoff(7));
        FetchConfig hour = new FetchConfig(1, s, s, s, 3, Duration.ofHours(1));
        assertEquals(Duration.ofHours(1), hour.backoff(1));
        assertEquals(Duration.ofHours(1), hour.backoff(5));
        assertThrows(IllegalArgumentException.class, () -> hour.backoff(0));
    }
}

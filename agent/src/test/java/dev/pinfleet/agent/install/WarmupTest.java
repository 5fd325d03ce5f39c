package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WarmupTest {
    @Test
    void warmUpHashesWholeChunksAndStopsAtItsByteBound() {
        long bytes = Warmup.run();
        assertTrue(bytes >= Warmup.CHUNK, "hashed " + bytes + " bytes");
        assertTrue(bytes <= Warmup.MAX_BYTES, "hashed " + bytes + " bytes, more than the bound " + Warmup.MAX_BYTES);
        assertTrue(bytes % Warmup.CHUNK == 0, "hashed " + bytes + " bytes, not whole chunks");
    }
}

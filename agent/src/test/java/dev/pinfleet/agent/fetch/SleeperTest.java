package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The production sleeper: back-offs are really waited, and a cancelled deploy's interrupt ends the wait. */
@Timeout(60)
class SleeperTest {

    @Test
    void theSystemSleeperWaitsTheWholeBackOffUntilInterrupted() throws Exception {
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        Thread backingOff = new Thread(() -> {
            try {
                Sleeper.system().sleep(Duration.ofMinutes(10));
                ended.complete(null);
            } catch (Throwable t) {
                ended.complete(t);
            }
        }, "backing-off");
        backingOff.start();

        // a wait of 10 minutes is still going after one second, however busy the machine
        backingOff.join(1000);
        assertTrue(backingOff.isAlive(), "returned early: " + ended.getNow(null));

        backingOff.interrupt();
        assertInstanceOf(InterruptedException.class, ended.get(30, TimeUnit.SECONDS));
    }
}

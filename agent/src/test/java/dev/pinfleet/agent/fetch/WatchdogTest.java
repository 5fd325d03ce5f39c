package dev.pinfleet.agent.fetch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.pinfleet.agent.fetch.Watchdog.Trip;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The download watchdog's rules on a clock of the test's own ({@link ManualTimer}): idle, minimum speed over each
 * window, whole-response deadline, cancel. Nothing here waits on the wall clock, so the windows can be exact: a
 * transfer exactly at the minimum speed over fifty windows is never abandoned, one byte less in a window is.
 */
class WatchdogTest {
    private static final Duration IDLE = Duration.ofSeconds(1);
    private static final Duration DEADLINE = Duration.ofMinutes(10);

    private final ManualTimer timer = new ManualTimer();
    private final AtomicInteger aborts = new AtomicInteger();

    private Watchdog watchdog(Duration idle, Duration deadline, long minSpeed) {
        Watchdog dog = new Watchdog(timer, timer, idle, deadline, minSpeed);
        dog.onTrip(aborts::incrementAndGet);
        return dog;
    }

    @Test
    void noByteForTheIdleTimeoutTripsIdleAndAbortsOnce() {
        Watchdog dog = watchdog(IDLE, DEADLINE, 0);
        timer.advance(IDLE.minusNanos(1));
        assertNull(dog.tripped(), "one nanosecond before the idle timeout");
        timer.advance(Duration.ofNanos(1));
        assertEquals(Trip.IDLE, dog.tripped());
        assertEquals(1, aborts.get());
        timer.advance(Duration.ofMinutes(1));
        assertEquals(1, aborts.get(), "trips once");
        assertEquals(0, timer.pending(), "no check scheduled after tripping");
    }

    @Test
    void eachByteRestartsTheIdleTimeout() {
        Watchdog dog = watchdog(IDLE, DEADLINE, 0);
        for (int i = 0; i < 100; i++) {
            timer.advance(IDLE.minusMillis(1));
            dog.progress(1);
        }
        assertNull(dog.tripped(), "a byte every 999 ms for 100 s");
        timer.advance(IDLE);
        assertEquals(Trip.IDLE, dog.tripped());
    }

    @Test
    void aTransferExactlyAtTheMinimumSpeedIsNeverAbandonedOverManyWindows() {
        Watchdog dog = watchdog(IDLE, DEADLINE, 100);
        for (int i = 0; i < 500; i++) { // 50 windows of 1 s, 10 bytes every 100 ms: 100 bytes/s
            dog.progress(10);
            timer.advance(Duration.ofMillis(100));
        }
        assertNull(dog.tripped());
        assertEquals(0, aborts.get());
    }

    @Test
    void oneByteShortOfTheMinimumInAWindowTripsSlowNamingTheBytesAndTheWindow() {
        Watchdog dog = watchdog(IDLE, DEADLINE, 100);
        for (int i = 0; i < 30; i++) { // three windows at the minimum
            dog.progress(10);
            timer.advance(Duration.ofMillis(100));
        }
        for (int i = 0; i < 10; i++) { // the fourth: 99 bytes
            dog.progress(i == 0 ? 9 : 10);
            if (i < 9) {
                timer.advance(Duration.ofMillis(100));
            }
        }
        timer.advance(Duration.ofMillis(99));
        assertNull(dog.tripped(), "the window is not over yet");
        timer.advance(Duration.ofMillis(1));
        assertEquals(Trip.SLOW, dog.tripped());
        assertEquals(99, dog.slowBytes());
        assertEquals(IDLE.toNanos(), dog.slowNanos());
        assertEquals(1, aborts.get());
    }

    @Test
    void aSurplusInOneWindowDoesNotCarryIntoTheNext() {
        Watchdog dog = watchdog(IDLE, DEADLINE, 100);
        for (int i = 0; i < 20; i++) { // a burst of 10,000 bytes, then one byte every 100 ms
            dog.progress(i == 0 ? 10_000 : 1);
            timer.advance(Duration.ofMillis(100));
        }
        assertEquals(Trip.SLOW, dog.tripped(), "10 bytes in the second window");
        assertEquals(10, dog.slowBytes());
    }

    @Test
    void theDeadlineTripsEvenWhileBytesKeepComing() {
        Watchdog dog = watchdog(IDLE, Duration.ofSeconds(5), 100);
        for (int i = 0; i < 49; i++) {
            dog.progress(1_000);
            timer.advance(Duration.ofMillis(100));
        }
        assertNull(dog.tripped());
        timer.advance(Duration.ofMillis(100));
        assertEquals(Trip.DEADLINE, dog.tripped());
    }

    @Test
    void withoutAMinimumSpeedATrickleOnlyMeetsTheDeadline() {
        Watchdog dog = watchdog(IDLE, Duration.ofSeconds(30), 0);
        for (int i = 0; i < 299; i++) {
            dog.progress(1);
            timer.advance(Duration.ofMillis(100));
        }
        assertNull(dog.tripped(), "one byte per 100 ms for 29.9 s");
        timer.advance(Duration.ofMillis(100));
        assertEquals(Trip.DEADLINE, dog.tripped());
    }

    @Test
    void closingStopsWatchingAndACancelTripsAtOnce() {
        Watchdog closed = watchdog(IDLE, DEADLINE, 100);
        closed.close();
        timer.advance(Duration.ofMinutes(20));
        assertNull(closed.tripped());
        assertEquals(0, aborts.get());

        Watchdog cancelled = watchdog(IDLE, DEADLINE, 100);
        cancelled.trip(Trip.CANCELLED);
        cancelled.trip(Trip.IDLE);
        assertEquals(Trip.CANCELLED, cancelled.tripped(), "the first reason stays");
        assertEquals(1, aborts.get());
        AtomicInteger late = new AtomicInteger();
        cancelled.onTrip(late::incrementAndGet);
        assertEquals(1, late.get(), "an abort set after the trip runs at once");
    }

    @Test
    void aTimerThatNoLongerTakesTasksCancels() {
        timer.shutdown();
        Watchdog dog = watchdog(IDLE, DEADLINE, 0);
        assertEquals(Trip.CANCELLED, dog.tripped(), "the fetcher was closed");
    }

    @Test
    void theMinimumSpeedScalesWithTheWindowTwoSecondsAskTwiceTheBytesOfOne() {
        Watchdog dog = watchdog(Duration.ofSeconds(2), DEADLINE, 1000);
        for (int i = 0; i < 3; i++) { // 1,500 bytes in the 2 s window: 750 bytes/s where 1,000 are asked
            dog.progress(500);
            timer.advance(Duration.ofMillis(600));
        }
        timer.advance(Duration.ofMillis(200));
        assertEquals(Trip.SLOW, dog.tripped());
        assertEquals(1500, dog.slowBytes());
        assertEquals(Duration.ofSeconds(2).toNanos(), dog.slowNanos());
    }
}

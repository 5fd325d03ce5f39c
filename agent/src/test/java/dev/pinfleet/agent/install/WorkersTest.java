package dev.pinfleet.agent.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A build step on the shared pool: every result handed on, the first failure ends the step (tasks not started yet do
 * nothing) and is thrown as it was, and the step returns only once no task of it runs any more.
 */
class WorkersTest {
    /** Bound on every wait here: far beyond what a task of these tests takes on a loaded box. */
    private static final long WAIT_SECONDS = 30;

    private final ThreadPoolExecutor pool = Workers.pool(1, "workers-test");

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    @Test
    void theThreadsAreDaemonsNamedAfterThePrefix() throws Exception {
        AtomicReference<Thread> ran = new AtomicReference<>();
        List<Workers.Task<Void>> task = List.of(() -> {
            ran.set(Thread.currentThread());
            return null;
        });
        new Workers(pool).runAll(task, r -> { });
        assertTrue(ran.get().isDaemon());
        assertTrue(ran.get().getName().startsWith("workers-test"), ran.get().getName());
        assertTrue(pool.allowsCoreThreadTimeOut(), "an idle agent keeps no install threads");
    }

    @Test
    void everyResultIsHandedOnOnTheCallingThread() throws Exception {
        List<Integer> seen = Collections.synchronizedList(new ArrayList<>());
        List<Thread> on = Collections.synchronizedList(new ArrayList<>());
        List<Workers.Task<Integer>> tasks = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            tasks.add(() -> n);
        }
        new Workers(pool).runAll(tasks, r -> {
            seen.add(r);
            on.add(Thread.currentThread());
        });
        assertEquals(List.of(0, 1, 2, 3, 4), seen.stream().sorted().toList());
        assertTrue(on.stream().allMatch(t -> t == Thread.currentThread()));
    }

    @Test
    void theFirstFailureEndsTheStepAndIsThrownAsItWas() throws Exception {
        InstallException refused = new InstallException("alpha.whl: entry 'x': refused");
        List<Integer> seen = new ArrayList<>();
        List<Workers.Task<Integer>> tasks = List.of(() -> {
            throw refused;
        }, () -> 1);
        assertSame(refused, assertThrows(InstallException.class, () -> new Workers(pool).runAll(tasks, seen::add)));
        assertEquals(List.of(), seen, "one thread: the task after the failure ended after it, and is not handed on");

        IOException io = new IOException("disk full");
        assertSame(io, assertThrows(IOException.class, () -> runOne(() -> {
            throw io;
        })));
        IllegalStateException bug = new IllegalStateException("a bug");
        assertSame(bug, assertThrows(IllegalStateException.class, () -> runOne(() -> {
            throw bug;
        })));
        AssertionError error = new AssertionError("an error");
        assertSame(error, assertThrows(AssertionError.class, () -> runOne(() -> {
            throw error;
        })));
    }

    private void runOne(Workers.Task<Void> task) throws Exception {
        new Workers(pool).runAll(List.of(task), r -> { });
    }

    @Test
    void anInterruptedStepStillWaitsForItsRunningTaskThenSaysSo() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean taskEnded = new AtomicBoolean();
        AtomicBoolean taskEndedBeforeReturn = new AtomicBoolean();
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread caller = new Thread(() -> {
            try {
                runOne(() -> {
                    started.countDown();
                    try {
                        release.await(WAIT_SECONDS, TimeUnit.SECONDS); // this task is not interrupted: it is writing
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    taskEnded.set(true);
                    return null;
                });
            } catch (Throwable t) {
                thrown.set(t);
            }
            taskEndedBeforeReturn.set(taskEnded.get());
            interruptKept.set(Thread.currentThread().isInterrupted());
        });
        caller.start();
        assertTrue(started.await(WAIT_SECONDS, TimeUnit.SECONDS));
        caller.interrupt();
        // it does not return while the task runs, however long it is given (200 ms here: the verdict cannot depend on
        // it, a correct caller is still waiting after any time); it returns once the task ends
        caller.join(200);
        assertTrue(caller.isAlive(), "runAll returned while its task was still running");
        release.countDown();
        caller.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
        assertFalse(caller.isAlive());
        assertTrue(taskEndedBeforeReturn.get());
        assertTrue(thrown.get() instanceof IOException, String.valueOf(thrown.get()));
        assertEquals("interrupted while installing", thrown.get().getMessage());
        assertTrue(interruptKept.get(), "the interrupt is kept for the caller's caller");
    }
}

package dev.pinfleet.controller.store;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The store contract on a real PostgreSQL server this test starts (and stops by its pid): a new database per test.
 * Skipped, saying what is missing, only where Debian's PostgreSQL binaries are not installed
 * ({@code ./install-deps.sh} installs them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PostgresStoreTest extends StoreContract {
    @TempDir java.nio.file.Path dir;
    private PostgresServer server;
    private int n;

    @BeforeAll
    void startServer() throws Exception {
        Assumptions.assumeTrue(PostgresServer.installed(), PostgresServer.MISSING);
        server = PostgresServer.start();
    }

    @AfterAll
    void stopServer() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Override
    DatabaseUrl newDatabase() throws Exception {
        return DatabaseUrl.parse(server.createDatabase("records_" + n++), dir);
    }

    /**
     * A controller stopped (SIGSTOP, a long pause) inside one of its transactions holds the lease row locked; the
     * server ends that transaction once it has been left open for the controller's stall limit, so the standby is
     * kept out by the lease alone, never by a lock held for as long as the pause lasts. Here the stalled controller
     * is a thread that updates the lease row and then waits (its session sits idle in the transaction, as a stopped
     * process's would); the stall limit is 2 s and the test allows 60 s: the margin absorbs any load.
     */
    @Test
    void aTransactionLeftOpenByAStalledControllerIsEndedSoTheStandbyIsNotLockedOut() throws Exception {
        DatabaseUrl url = newDatabase();
        Clock clock = Clock.systemUTC();
        Database pausedDb = Database.open(url, clock, Duration.ofSeconds(2));
        try (JdbcRolloutStore paused = new JdbcRolloutStore(pausedDb, clock);
                JdbcRolloutStore standby = new JdbcRolloutStore(Database.open(url, clock, Duration.ofSeconds(2)), clock)) {
            paused.lead("host/1/1/a", "10.0.0.1:7300", -1_000, 0); // its lease has run out by the database's clock
            CountDownLatch locked = new CountDownLatch(1);
            CountDownLatch wake = new CountDownLatch(1);
            CompletableFuture<Void> stalled = CompletableFuture.runAsync(() -> pausedDb.inTransaction(c -> {
                try (var ps = c.prepareStatement("UPDATE controller_leader SET address = address WHERE name = 'rollouts'")) {
                    ps.executeUpdate();
                }
                locked.countDown();
                try {
                    wake.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }, "a stalled transaction"));
            assertTrue(locked.await(60, TimeUnit.SECONDS), "the stalled controller locked the lease row");
            CompletableFuture<RolloutStore.Leader> took = CompletableFuture.supplyAsync(
                    () -> standby.lead("host/2/1/b", "10.0.0.2:7300", LEASE, 0));
            RolloutStore.Leader b = took.get(60, TimeUnit.SECONDS);
            assertTrue(b.heldBy("host/2/1/b"), "the standby took the lease while the other was still stalled: " + b);
            wake.countDown();
            Throwable ended = assertThrowsCause(stalled);
            assertNotNull(ended);
            assertTrue(String.valueOf(ended.getMessage()).contains("a stalled transaction"), ended.getMessage());
            assertTrue(standby.leader().heldBy("host/2/1/b"), "the stalled transaction changed nothing");
        }
    }

    private static Throwable assertThrowsCause(CompletableFuture<?> f) throws Exception {
        try {
            f.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("the stalled controller's transaction was committed although the server had ended it");
    }
}

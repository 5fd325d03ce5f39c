package dev.pinfleet.controller.store;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
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
}

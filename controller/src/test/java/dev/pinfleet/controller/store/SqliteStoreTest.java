package dev.pinfleet.controller.store;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on SQLite, the embedded default: a new file per test. */
class SqliteStoreTest extends StoreContract {
    @TempDir Path dir;
    private int n;

    @Override
    DatabaseUrl newDatabase() {
        return DatabaseUrl.parse("records-" + n++ + ".db", dir);
    }
}

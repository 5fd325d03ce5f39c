package dev.pinfleet.controller.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationInfoService;
import org.flywaydb.core.api.MigrationVersion;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * An open database of records: a connection pool (HikariCP), the schema brought up to date at open by Flyway's
 * numbered migrations (all pending ones in one transaction; a database written by a newer pinfleet is refused, never
 * downgraded), and a write at open that proves the database can record (a locked, read-only or full one is refused
 * here, naming it and the cause). SQLite runs in WAL mode with {@code synchronous=NORMAL}: a commit survives the
 * process being killed (not a power cut of the last moments), and readers never wait for the writer.
 */
public final class Database implements AutoCloseable {
    /** How long a SQLite writer waits for another process's write to end before giving up, in milliseconds. */
    static final int SQLITE_BUSY_TIMEOUT_MS = 5_000;
    /**
     * The version of the newest migration in {@code db/migration} (a test keeps the two equal). A database already at
     * it is opened without Flyway (which costs a CLI about half a second to start); any other goes through Flyway.
     */
    static final String SCHEMA_VERSION = "3";

    private final DatabaseUrl url;
    private final HikariDataSource pool;

    private Database(DatabaseUrl url, HikariDataSource pool) {
        this.url = url;
        this.pool = pool;
    }

    /**
     * How long a PostgreSQL session of this controller may sit inside an open transaction before the server ends it,
     * when the caller names none: the default lease.
     */
    public static final Duration DEFAULT_STALL = Duration.ofSeconds(30);

    /** Opens (creating a SQLite file on first use), migrates and probes the database. */
    public static Database open(DatabaseUrl url, Clock clock) {
        return open(url, clock, DEFAULT_STALL);
    }

    /**
     * Opens the database as {@link #open(DatabaseUrl, Clock)}; on PostgreSQL the server ends any of this
     * controller's transactions left open longer than {@code stall} ({@code idle_in_transaction_session_timeout}),
     * which frees the rows it locked. Why: a controller paused inside a transaction (SIGSTOP, a long GC or VM pause)
     * would otherwise hold the lease row, or a rollout's row, locked for as long as it is paused, and the standby's
     * takeover would wait on that lock instead of on the lease. A served controller passes its lease: a controller
     * stalled that long is no longer the leader by its own rule (it steps down once it has not renewed within the
     * lease), so ending its transaction takes nothing from a holder entitled to act.
     */
    public static Database open(DatabaseUrl url, Clock clock, Duration stall) {
        if (url.dialect() == Dialect.SQLITE) {
            checkFile(url.file());
        }
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config(url, stall));
        } catch (RuntimeException e) {
            Throwable c = e.getCause() instanceof SQLException s ? s : e;
            throw new StoreException("database " + url + ": cannot open: "
                    + (c instanceof SQLException s ? url.dialect().cause(s) : String.valueOf(c.getMessage())), e);
        }
        Database db = new Database(url, pool);
        try {
            db.migrate();
            db.probe(clock.millis());
            return db;
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    private static void checkFile(Path file) {
        Path dir = file.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new StoreException("database " + file + ": directory " + dir + " does not exist");
        }
        if (Files.exists(file) && !Files.isRegularFile(file)) {
            throw new StoreException("database " + file + ": is not a regular file");
        }
        // SQLite writes beside the file too (its -wal and -shm files), so the directory must take writes as well.
        if (!Files.isWritable(dir) || Files.exists(file) && !Files.isWritable(file)) {
            throw new StoreException("database " + file + ": read-only: " + file + " cannot be written (a read-only"
                    + " file, directory or file system)");
        }
    }

    private static HikariConfig config(DatabaseUrl url, Duration stall) {
        HikariConfig c = new HikariConfig();
        c.setPoolName("pinfleet-records");
        c.setConnectionTimeout(10_000);
        c.setAutoCommit(true);
        if (url.dialect() == Dialect.SQLITE) {
            SQLiteConfig s = new SQLiteConfig();
            s.setJournalMode(SQLiteConfig.JournalMode.WAL);
            s.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
            s.setBusyTimeout(SQLITE_BUSY_TIMEOUT_MS);
            s.enforceForeignKeys(true);
            s.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
            SQLiteDataSource ds = new SQLiteDataSource(s);
            ds.setUrl(url.jdbcUrl());
            c.setDataSource(ds);
            c.setMaximumPoolSize(4);
            c.setMinimumIdle(1);
        } else {
            c.setJdbcUrl(url.jdbcUrl());
            if (!url.user().isEmpty()) {
                c.setUsername(url.user());
            }
            if (!url.password().isEmpty()) {
                c.setPassword(url.password());
            }
            c.setMaximumPoolSize(8);
            c.setMinimumIdle(1);
            c.setConnectionInitSql("SET idle_in_transaction_session_timeout = " + Math.max(1, stall.toMillis()));
        }
        return c;
    }

    /** Whether the schema history says exactly {@link #SCHEMA_VERSION}, every migration having succeeded. */
    private boolean current() {
        try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(
                "SELECT version, success FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank");
                ResultSet rs = ps.executeQuery()) {
            String last = null;
            while (rs.next()) {
                if (!rs.getBoolean(2)) {
                    return false;
                }
                last = rs.getString(1);
            }
            return SCHEMA_VERSION.equals(last);
        } catch (SQLException e) {
            return false; // no history yet (a new database), or one Flyway must look at
        }
    }

    private void migrate() {
        if (current()) {
            return;
        }
        Flyway flyway = Flyway.configure(Database.class.getClassLoader()).dataSource(pool)
                .locations("classpath:db/migration").placeholders(url.dialect().placeholders())
                .group(true).load();
        try {
            MigrationInfoService info = flyway.info();
            MigrationVersion known = Arrays.stream(info.all()).filter(i -> i.getState().isResolved())
                    .map(MigrationInfo::getVersion).max(MigrationVersion::compareTo).orElse(MigrationVersion.EMPTY);
            Optional<MigrationInfo> newer = Arrays.stream(info.all())
                    .filter(i -> i.getState().isApplied() && !i.getState().isResolved()).findFirst();
            if (newer.isPresent()) {
                throw new StoreException("database " + url + ": was written by a newer pinfleet (schema version "
                        + newer.get().getVersion() + " '" + newer.get().getDescription() + "'; this pinfleet knows up to "
                        + known + "): refusing to use it rather than downgrade it; run that pinfleet or a newer one");
            }
            if (info.pending().length > 0) {
                flyway.migrate();
            }
        } catch (FlywayException e) {
            Throwable c = e;
            while (c.getCause() != null && !(c instanceof SQLException)) {
                c = c.getCause();
            }
            throw new StoreException("database " + url + ": cannot bring its schema up to date: "
                    + (c instanceof SQLException s ? url.dialect().cause(s) : e.getMessage()), e);
        }
    }

    /** A write that proves the database takes records now. */
    private void probe(long now) {
        inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE controller_meta SET value = ? WHERE name = 'last_opened_ms'")) {
                ps.setString(1, Long.toString(now));
                ps.executeUpdate();
            }
            return null;
        }, "cannot record");
    }

    public DatabaseUrl url() {
        return url;
    }

    public Dialect dialect() {
        return url.dialect();
    }

    /** The schema version the database is at (e.g. "1"). */
    public String schemaVersion() {
        return inTransaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT version FROM flyway_schema_history WHERE success = "
                    + (dialect() == Dialect.SQLITE ? "1" : "true") + " AND version IS NOT NULL ORDER BY installed_rank DESC");
                    ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : "";
            }
        }, "cannot read the schema version");
    }

    /** Work on one connection in one transaction. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs {@code work} in one transaction; a failure rolls it back and names the database, {@code what} and the cause. */
    public <T> T inTransaction(Work<T> work, String what) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                T out = work.run(c);
                c.commit();
                return out; // the pool turns auto-commit back on when the connection comes back
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException broken) {
                    // SQLite already rolled back by itself (e.g. on a full disk) and the driver does not know, or the
                    // connection is broken: either way it must not serve another transaction.
                    pool.evictConnection(c);
                }
                throw e;
            }
        } catch (SQLException e) {
            throw new StoreException("database " + url + ": " + what + ": " + dialect().cause(e), e);
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}

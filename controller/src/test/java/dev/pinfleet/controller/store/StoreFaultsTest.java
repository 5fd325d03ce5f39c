package dev.pinfleet.controller.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A database that cannot take records: missing, locked by another process, read-only, on a full disk, or holding
 * something else. Each is refused naming the database and the cause, and what was recorded before stays readable.
 * A full disk is a small tmpfs and a read-only file system a tmpfs remounted read-only (this machine kind runs the
 * tests as root); where mounting is impossible those two cases are skipped with the reason printed.
 */
class StoreFaultsTest {
    @TempDir Path dir;
    private final List<Path> mounts = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (int i = mounts.size() - 1; i >= 0; i--) {
            run(List.of("umount", mounts.get(i).toString()));
        }
    }

    private static Database open(Path file) {
        return Database.open(DatabaseUrl.parse(file.toString(), Path.of("/")), StoreContract.CLOCK);
    }

    private static long oneRollout(Path file) {
        try (RolloutStore s = new JdbcRolloutStore(open(file), StoreContract.CLOCK)) {
            return s.submit(StoreContract.rollout("shop", "", "alice", "web1"), false, "me", StoreContract.NOW,
                    StoreContract.LEASE).rollout().getId();
        }
    }

    private static void assertStillThere(Path file, long id) {
        try (RolloutStore s = new JdbcRolloutStore(open(file), StoreContract.CLOCK)) {
            assertEquals(List.of(id), s.history(null, Set.of(), 10).stream().map(r -> r.getId()).toList());
        }
    }

    @Test
    void aMissingDirectoryIsNamed() {
        Path file = dir.resolve("no/such/dir/records.db");
        StoreException e = assertThrows(StoreException.class, () -> open(file));
        assertEquals("database " + file + ": directory " + file.getParent() + " does not exist", e.getMessage());
        assertTrue(Files.notExists(dir.resolve("no")), "nothing created");
    }

    @Test
    void aFileThatIsNotPinfleetsIsRefusedAndLeftAlone() throws Exception {
        Path file = dir.resolve("other.db");
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file); var st = c.createStatement()) {
            st.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)");
        }
        StoreException e = assertThrows(StoreException.class, () -> open(file));
        assertTrue(e.getMessage().startsWith("database " + file + ": cannot bring its schema up to date: "), e.getMessage());
        try (var c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + file); var st = c.createStatement();
                var rs = st.executeQuery("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")) {
            assertTrue(rs.next());
            assertEquals("invoices", rs.getString(1));
            assertTrue(!rs.next(), "no table was added");
        }
    }

    @Test
    void aDatabaseLockedByAnotherProcessIsRefusedAfterTheBusyTimeout() throws Exception {
        Path file = dir.resolve("records.db");
        long id = oneRollout(file);
        // Another process (python's sqlite3) takes the write lock and keeps it.
        Process holder = new ProcessBuilder("python3", "-u", "-c", "import sqlite3, sys, time\n"
                + "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                + "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(600)\n", file.toString())
                .redirectErrorStream(true).start();
        processes.add(holder);
        BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("locked", out.readLine());
        StoreException e = assertThrows(StoreException.class, () -> open(file));
        assertTrue(e.getMessage().startsWith("database " + file + ": cannot record: locked by another process"),
                e.getMessage());
        holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        assertStillThere(file, id);
    }

    private Path tmpfs(String size) throws IOException, InterruptedException {
        Path m = Files.createDirectory(dir.resolve("mnt-" + mounts.size()));
        try {
            run(List.of("mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0755", "tmpfs", m.toString()));
        } catch (IOException e) {
            System.out.println("StoreFaultsTest: cannot mount a tmpfs here (" + e.getMessage().strip() + "); skipped");
            Assumptions.abort("mounting needs root: " + e.getMessage());
        }
        mounts.add(m);
        return m;
    }

    @Test
    void aReadOnlyFileSystemIsRefusedAndTheRecordsStayReadable() throws Exception {
        Path m = tmpfs("4m");
        Path file = m.resolve("records.db");
        long id = oneRollout(file);
        run(List.of("mount", "-o", "remount,ro", m.toString()));
        StoreException e = assertThrows(StoreException.class, () -> open(file));
        assertEquals("database " + file + ": read-only: " + file + " cannot be written (a read-only file, directory"
                + " or file system)", e.getMessage());
        run(List.of("mount", "-o", "remount,rw", m.toString()));
        assertStillThere(file, id);
    }

    @Test
    void aFullDiskRefusesTheSubmissionNamingTheDatabaseAndKeepsWhatWasRecorded() throws Exception {
        Path m = tmpfs("2m");
        Path file = m.resolve("records.db");
        long id = oneRollout(file);
        try (RolloutStore s = new JdbcRolloutStore(open(file), StoreContract.CLOCK)) {
            Path filler = m.resolve("filler");
            try (OutputStream o = Files.newOutputStream(filler)) {
                byte[] block = new byte[64 * 1024];
                for (int i = 0; i < 64; i++) { // at most 4 MiB: more than the file system holds
                    o.write(block);
                    o.flush();
                }
            } catch (IOException full) {
                // the disk is full now
            }
            StoreException e = assertThrows(StoreException.class, () -> s.submit(StoreContract.rollout("blog", "", "bob",
                    bigInventory()), false, "me", StoreContract.NOW, StoreContract.LEASE));
            assertTrue(e.getMessage().startsWith("database " + file + ": cannot record the rollout: "), e.getMessage());
            assertTrue(e.getMessage().contains("disk full") || e.getMessage().contains("full or failing disk"), e.getMessage());
            Files.delete(filler);
            assertEquals(List.of(id), s.history(null, Set.of(), 10).stream().map(r -> r.getId()).toList(),
                    "the refused rollout left nothing, the first one is whole");
        }
        assertStillThere(file, id);
    }

    /** Node names enough to need more pages than a full disk has. */
    private static String[] bigInventory() {
        String[] nodes = new String[2000];
        for (int i = 0; i < nodes.length; i++) {
            nodes[i] = "web" + i + "-" + "x".repeat(100);
        }
        return nodes;
    }

    private static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + ": " + out);
        }
    }

    @Test
    void theSchemaVersionOfTheFastOpenIsTheNewestMigration() throws Exception {
        Path dirOfMigrations = Path.of(Database.class.getResource("/db/migration").toURI());
        int newest = 0;
        try (var files = Files.list(dirOfMigrations)) {
            for (Path f : files.toList()) {
                var m = java.util.regex.Pattern.compile("V(\\d+)__.*\\.sql").matcher(f.getFileName().toString());
                if (m.matches()) {
                    newest = Math.max(newest, Integer.parseInt(m.group(1)));
                }
            }
        }
        assertEquals(Integer.toString(newest), Database.SCHEMA_VERSION,
                "Database.SCHEMA_VERSION must name the newest migration, or a database at it would skip it");
        Path file = dir.resolve("records.db");
        long id = oneRollout(file);
        try (Database db = open(file)) {
            assertEquals(Database.SCHEMA_VERSION, db.schemaVersion());
        }
        assertStillThere(file, id);
    }
}

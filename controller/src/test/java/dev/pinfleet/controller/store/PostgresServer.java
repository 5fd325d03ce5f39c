package dev.pinfleet.controller.store;

import dev.pinfleet.testing.LoopbackPorts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL cluster for tests: Debian's PostgreSQL 15 ({@code initdb} + {@code pg_ctl}) in a temporary
 * directory, on a free loopback port, trust authentication for the user {@code pf}. PostgreSQL refuses to run as
 * root, so as root the cluster runs as {@code nobody} ({@code setpriv}). Closing stops the server by its own process
 * id (the one in its {@code postmaster.pid}: SIGINT, PostgreSQL's fast shutdown) and deletes the directory.
 */
public final class PostgresServer implements AutoCloseable {
    public static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");
    public static final String USER = "pf";

    private final Path dir;
    private final Path data;
    private final int port;
    private final long pid;
    private final List<String> asOwner;

    private PostgresServer(Path dir, Path data, int port, long pid, List<String> asOwner) {
        this.dir = dir;
        this.data = data;
        this.port = port;
        this.pid = pid;
        this.asOwner = asOwner;
    }

    /** What a test that needs PostgreSQL says when the binaries are not installed. */
    public static final String MISSING = BIN + "/initdb and pg_ctl are missing: install Debian's postgresql package"
            + " (apt-get install postgresql; ./install-deps.sh does)";

    /** Whether the binaries are installed. */
    public static boolean installed() {
        return Files.isExecutable(BIN.resolve("initdb")) && Files.isExecutable(BIN.resolve("pg_ctl"))
                && Files.isExecutable(BIN.resolve("postgres"));
    }

    /** initdb and start; fails naming what is missing when PostgreSQL is not installed. */
    public static PostgresServer start() throws IOException, InterruptedException {
        if (!installed()) {
            throw new IOException(MISSING);
        }
        Path dir = Files.createTempDirectory("pinfleet-pg");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path data = dir.resolve("data");
        Files.createDirectory(data, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        List<String> asOwner = new ArrayList<>();
        if (System.getProperty("user.name").equals("root")) {
            UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
            PosixFileAttributeView view = Files.getFileAttributeView(data, PosixFileAttributeView.class);
            view.setOwner(users.lookupPrincipalByName("nobody"));
            GroupPrincipal group = users.lookupPrincipalByGroupName(nobodyGroup());
            view.setGroup(group);
            asOwner.addAll(List.of("setpriv", "--reuid=nobody", "--regid=" + nobodyGroup(), "--clear-groups"));
        }
        run(asOwner, List.of(BIN.resolve("initdb").toString(), "-D", data.toString(), "-A", "trust", "-U", USER,
                "--no-sync", "-E", "UTF8"));
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = LoopbackPorts.unclaimed(); // free now; if taken before the server binds it, the start retries
            try {
                run(asOwner, List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-o",
                        "-p " + port + " -k " + data + " -c listen_addresses=127.0.0.1 -c fsync=off", "-l",
                        data.resolve("server.log").toString(), "-w", "-t", "60", "start"));
                long pid = Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).strip());
                return new PostgresServer(dir, data, port, pid, asOwner);
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    private static String nobodyGroup() throws IOException {
        return Files.readAllLines(Path.of("/etc/group")).stream().anyMatch(l -> l.startsWith("nogroup:")) ? "nogroup" : "nobody";
    }

    private static String run(List<String> prefix, List<String> cmd) throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(prefix);
        all.addAll(cmd);
        Process p = new ProcessBuilder(all).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", all) + ": still running after 120 s");
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", all) + " exited " + p.exitValue() + ":\n" + text);
        }
        return text;
    }

    public int port() {
        return port;
    }

    public long pid() {
        return pid;
    }

    /** A new empty database; its {@code postgresql://} URL (what {@code --database} takes). */
    public String createDatabase(String name) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", USER, "");
                Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return "postgresql://" + USER + "@127.0.0.1:" + port + "/" + name;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        Optional<ProcessHandle> server = ProcessHandle.of(pid);
        if (server.isPresent()) {
            try {
                run(List.of(), List.of("kill", "-INT", Long.toString(pid)));
            } catch (IOException e) {
                if (server.get().isAlive()) {
                    throw e;
                }
            }
            try {
                server.get().onExit().get(60, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                server.get().destroyForcibly();
                server.get().onExit().orTimeout(30, TimeUnit.SECONDS).join();
            }
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

package dev.pinfleet.controller.store;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the records live, as {@code --database} takes it: a SQLite file ({@code PATH}, {@code sqlite:PATH} or
 * {@code jdbc:sqlite:PATH}), or a PostgreSQL database ({@code postgresql://USER[:PASSWORD]@HOST[:PORT]/DB} or
 * {@code jdbc:postgresql://HOST[:PORT]/DB?user=USER&password=…}).
 *
 * @param dialect  which database
 * @param jdbcUrl  the JDBC URL (for SQLite: {@code jdbc:sqlite:} and the absolute file)
 * @param file     the SQLite file (null for PostgreSQL)
 * @param user     PostgreSQL user (empty: the driver's default)
 * @param password PostgreSQL password (empty: none)
 * @param display  what messages call it: the file, or the URL without its password
 */
public record DatabaseUrl(Dialect dialect, String jdbcUrl, Path file, String user, String password, String display) {
    private static final Pattern JDBC_PASSWORD = Pattern.compile("([?&])password=[^&]*&?");

    @Override
    public String toString() {
        return display;
    }

    /** Parses {@code spec}; a relative SQLite path is taken from {@code base}. */
    public static DatabaseUrl parse(String spec, Path base) {
        String s = spec.strip();
        if (s.isEmpty()) {
            throw new StoreException("--database is empty: give a SQLite file or a postgresql:// URL");
        }
        if (s.startsWith("postgresql://") || s.startsWith("postgres://")) {
            return libpq(s);
        }
        if (s.startsWith("jdbc:postgresql:")) {
            Matcher m = JDBC_PASSWORD.matcher(s);
            String display = m.replaceAll("$1").replaceAll("[?&]$", "");
            return new DatabaseUrl(Dialect.POSTGRESQL, s, null, "", "", display);
        }
        String path = s.startsWith("jdbc:sqlite:") ? s.substring("jdbc:sqlite:".length())
                : s.startsWith("sqlite:") ? s.substring("sqlite:".length()) : s;
        if (path.isEmpty() || path.startsWith(":memory:") || path.startsWith("file:")) {
            throw new StoreException("--database " + spec + ": give the SQLite file as a path (the records must outlive"
                    + " the process)");
        }
        Path file = base.resolve(path).toAbsolutePath().normalize();
        return new DatabaseUrl(Dialect.SQLITE, "jdbc:sqlite:" + file, file, "", "", file.toString());
    }

    private static DatabaseUrl libpq(String s) {
        URI u;
        try {
            u = new URI(s);
        } catch (URISyntaxException e) {
            throw new StoreException("--database " + s.replaceAll(":[^:@/]*@", ":***@") + ": not a URL: " + e.getReason());
        }
        if (u.getHost() == null || u.getPath() == null || u.getPath().length() < 2) {
            throw new StoreException("--database " + s.replaceAll(":[^:@/]*@", ":***@")
                    + ": expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE");
        }
        String user = "";
        String password = "";
        if (u.getRawUserInfo() != null) {
            String[] up = u.getRawUserInfo().split(":", 2);
            user = URLDecoder.decode(up[0], StandardCharsets.UTF_8);
            password = up.length > 1 ? URLDecoder.decode(up[1], StandardCharsets.UTF_8) : "";
        }
        String hostPort = u.getHost() + (u.getPort() > 0 ? ":" + u.getPort() : "");
        String query = u.getRawQuery() == null ? "" : "?" + u.getRawQuery();
        String jdbc = "jdbc:postgresql://" + hostPort + u.getRawPath() + query;
        String display = "postgresql://" + (user.isEmpty() ? "" : user + "@") + hostPort + u.getRawPath();
        return new DatabaseUrl(Dialect.POSTGRESQL, jdbc, null, user, password, display);
    }

    /** The same database with another password (e.g. read from a file). */
    public DatabaseUrl withPassword(String pw) {
        return new DatabaseUrl(dialect, jdbcUrl, file, user, pw, display);
    }
}

package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.archive.ArchiveException;
import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.WheelArchive;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the mirror holds for a project. Freeze reads a mirror either as a local directory
 * ({@code DIR/packages/<project>/}) or over HTTP through its PEP 503 simple index. Listing is cheap (names and
 * the digests the index claims); only the file a pin resolves to is fetched, and its bytes are hashed here,
 * so the manifest records what the mirror really serves. Each fetched wheel is checked as every agent checks it
 * ({@link WheelArchive#open}: nothing inflated beyond its metadata files) and read for what it installs.
 */
public interface MirrorCatalog {

    /**
     * A file as the mirror lists it.
     *
     * @param filename      file name
     * @param path          path relative to the mirror's base
     * @param claimedSha256 the sha256 the index gives for it ({@code #sha256=} fragment), or "" when unknown
     */
    record Listing(String filename, String path, String claimedSha256) {}

    /** Files published for a project (PEP 503 normalized name); empty when none. */
    List<Listing> list(String project) throws IOException;

    /** Every project the mirror has (PEP 503 normalized names): for "did you mean" in messages. */
    List<String> projects() throws IOException;

    /**
     * Reads one listed wheel: sha256 and size of its actual bytes, its METADATA and what installing it under
     * {@code scheme} creates.
     *
     * @throws IOException when it cannot be fetched, its bytes disagree with the index's sha256, or it is not a
     *                     wheel every agent would install (the message names the file, the entry and why)
     */
    MirrorFile fetch(Listing file, InstallScheme scheme) throws IOException;

    /** The checked wheel {@code file}, already hashed. */
    private static MirrorFile read(Path file, Listing l, String sha256, long size, InstallScheme scheme)
            throws IOException {
        try (WheelArchive w = WheelArchive.open(file, l.filename())) {
            return new MirrorFile(l.filename(), l.path(), sha256, size, w.metadata(), w.installedFiles(scheme));
        } catch (ArchiveException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** The mirror as named by the operator, for messages. */
    String describe();

    /** A mirror directory or an http(s) base URL. */
    static MirrorCatalog open(String dirOrUrl) {
        if (dirOrUrl.startsWith("http://") || dirOrUrl.startsWith("https://")) {
            // pip users give the index, .../simple/: the mirror's base is the directory above it
            String base = dirOrUrl.replaceFirst("/simple/?$", "/");
            try {
                return new Http(URI.create(base.endsWith("/") ? base : base + "/"));
            } catch (IllegalArgumentException e) {
                throw new CliException("mirror URL '" + dirOrUrl + "' is not a valid URL: " + e.getMessage(), 2);
            }
        }
        Path dir = Path.of(dirOrUrl);
        if (!Files.isDirectory(dir.resolve("packages"))) {
            throw new CliException("mirror " + dir + ": no packages/ directory (is this a pinfleet mirror?)");
        }
        return new Dir(dir);
    }

    /** The mirror cannot be reached at all: asking it for the next pin would fail the same way. */
    final class Unreachable extends IOException {
        private static final long serialVersionUID = 1L;

        Unreachable(String message) {
            super(message);
        }
    }

    /** A mirror directory on this machine. */
    final class Dir implements MirrorCatalog {
        private final Path root;

        Dir(Path root) {
            this.root = root;
        }

        @Override
        public List<String> projects() throws IOException {
            List<String> out = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(root.resolve("packages"))) {
                for (Path d : ds) {
                    if (Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS) && !d.getFileName().toString().startsWith(".")) {
                        out.add(d.getFileName().toString());
                    }
                }
            }
            return out;
        }

        @Override
        public List<Listing> list(String project) throws IOException {
            Path dir = root.resolve("packages").resolve(project);
            List<Listing> out = new ArrayList<>();
            if (!Files.isDirectory(dir)) {
                return out;
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path f : ds) {
                    String name = f.getFileName().toString();
                    if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS) && !name.startsWith(".")) {
                        out.add(new Listing(name, "packages/" + project + "/" + name, ""));
                    }
                }
            }
            return out;
        }

        @Override
        public MirrorFile fetch(Listing l, InstallScheme scheme) throws IOException {
            Path f = root.resolve(l.path());
            return read(f, l, Hashing.sha256Hex(f), Files.size(f), scheme);
        }

        @Override
        public String describe() {
            return root.toString();
        }
    }

    /** A mirror served over HTTP with a PEP 503 simple index. */
    final class Http implements MirrorCatalog {
        private static final Pattern ANCHOR = Pattern.compile("<a\\s[^>]*href=\"([^\"]+)\"[^>]*>", Pattern.CASE_INSENSITIVE);
        private final URI base;
        private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();

        Http(URI base) {
            this.base = base;
        }

        @Override
        public List<String> projects() throws IOException {
            URI page = base.resolve("simple/");
            HttpResponse<String> resp = send(HttpRequest.newBuilder(page).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            List<String> out = new ArrayList<>();
            if (resp.statusCode() == 200) {
                Matcher m = ANCHOR.matcher(resp.body());
                while (m.find()) {
                    out.add(m.group(1).replaceAll("^.*?([^/]+)/?$", "$1"));
                }
            }
            return out;
        }

        @Override
        public List<Listing> list(String project) throws IOException {
            URI page = base.resolve("simple/" + project + "/");
            HttpResponse<String> resp = send(HttpRequest.newBuilder(page).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            List<Listing> out = new ArrayList<>();
            if (resp.statusCode() == 404) {
                return out;
            }
            if (resp.statusCode() != 200) {
                throw new IOException(page + " answered HTTP " + resp.statusCode());
            }
            Matcher m = ANCHOR.matcher(resp.body());
            while (m.find()) {
                String href = m.group(1).replace("&amp;", "&");
                int hash = href.indexOf('#');
                URI file = page.resolve(hash >= 0 ? href.substring(0, hash) : href);
                String rel = base.relativize(file).getPath();
                if (file.getHost() == null || !file.toString().startsWith(base.toString())
                        || Names.checkRelativePath(rel) != null) {
                    throw new IOException(page + " links to " + file + ", outside the mirror " + base);
                }
                String claimed = hash >= 0 && href.startsWith("sha256=", hash + 1) ? href.substring(hash + 8) : "";
                out.add(new Listing(rel.substring(rel.lastIndexOf('/') + 1), rel, claimed));
            }
            return out;
        }

        @Override
        public MirrorFile fetch(Listing l, InstallScheme scheme) throws IOException {
            URI file = base.resolve(l.path());
            Path tmp = Files.createTempFile("pinfleet-freeze", ".whl");
            try {
                HttpResponse<InputStream> resp = send(HttpRequest.newBuilder(file).timeout(Duration.ofMinutes(5)).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                MessageDigest md = Hashing.sha256();
                long size = 0;
                try (InputStream in = resp.body(); OutputStream out = Files.newOutputStream(tmp)) {
                    if (resp.statusCode() != 200) {
                        throw new IOException(file + " answered HTTP " + resp.statusCode());
                    }
                    byte[] buf = new byte[1 << 16];
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        md.update(buf, 0, n);
                        out.write(buf, 0, n);
                        size += n;
                    }
                }
                String sha = Hashing.hex(md.digest());
                if (!l.claimedSha256().isEmpty() && !l.claimedSha256().equals(sha)) {
                    throw new IOException(file + ": the index says sha256 " + l.claimedSha256()
                            + " but the file served has " + sha);
                }
                try {
                    return read(tmp, l, sha, size, scheme);
                } catch (IOException e) {
                    throw new IOException(file + ": " + e.getMessage(), e);
                }
            } finally {
                Files.deleteIfExists(tmp);
            }
        }

        private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> h) throws IOException {
            try {
                return client.send(req, h);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            } catch (java.net.http.HttpTimeoutException e) {
                throw new Unreachable("mirror " + base + " did not answer in time (" + req.uri() + ")");
            } catch (java.net.ConnectException e) {
                boolean unknownHost = e.getCause() instanceof java.nio.channels.UnresolvedAddressException
                        || e.getCause() instanceof java.net.UnknownHostException;
                throw new Unreachable(unknownHost
                        ? "mirror " + base + ": unknown host '" + base.getHost() + "': check the host name in --mirror"
                        : "mirror " + base + ": nothing answers at " + base.getHost() + ":" + port(base) + " (connection "
                                + "refused): check --mirror, and that the mirror is served there (`pinfleet mirror serve`"
                                + " or nginx)");
            }
        }

        private static int port(URI u) {
            return u.getPort() >= 0 ? u.getPort() : u.getScheme().equals("https") ? 443 : 80;
        }

        @Override
        public String describe() {
            return base.toString();
        }
    }
}

package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the mirror holds for a project. Freeze reads a mirror either as a local directory
 * ({@code DIR/packages/<project>/}) or over HTTP through its PEP 503 simple index; either way the
 * bytes are hashed here, so the manifest records what the mirror really serves.
 */
public interface MirrorCatalog {
    /** Files published for a project (PEP 503 normalized name); empty when none. */
    List<MirrorFile> files(String project) throws IOException;

    /** The mirror as named by the operator, for messages. */
    String describe();

    static MirrorCatalog open(String dirOrUrl) {
        if (dirOrUrl.startsWith("http://") || dirOrUrl.startsWith("https://")) {
            return new Http(URI.create(dirOrUrl.endsWith("/") ? dirOrUrl : dirOrUrl + "/"));
        }
        Path dir = Path.of(dirOrUrl);
        if (!Files.isDirectory(dir.resolve("packages"))) {
            throw new CliException("mirror " + dir + ": no packages/ directory (is this a pinfleet mirror?)");
        }
        return new Dir(dir);
    }

    /** A mirror directory on this machine. */
    final class Dir implements MirrorCatalog {
        private final Path root;

        Dir(Path root) {
            this.root = root;
        }

        @Override
        public List<MirrorFile> files(String project) throws IOException {
            Path dir = root.resolve("packages").resolve(project);
            List<MirrorFile> out = new ArrayList<>();
            if (!Files.isDirectory(dir)) {
                return out;
            }
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path f : ds) {
                    if (Files.isRegularFile(f) && !f.getFileName().toString().startsWith(".")) {
                        String name = f.getFileName().toString();
                        out.add(new MirrorFile(name, "packages/" + project + "/" + name, Hashing.sha256Hex(f),
                                Files.size(f)));
                    }
                }
            }
            return out;
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
        public List<MirrorFile> files(String project) throws IOException {
            URI page = base.resolve("simple/" + project + "/");
            HttpResponse<String> resp = send(HttpRequest.newBuilder(page).timeout(Duration.ofSeconds(30)).build(),
                    HttpResponse.BodyHandlers.ofString());
            List<MirrorFile> out = new ArrayList<>();
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
                String name = rel.substring(rel.lastIndexOf('/') + 1);
                long[] size = new long[1];
                String sha = download(file, size);
                if (hash >= 0 && href.startsWith("sha256=", hash + 1) && !href.substring(hash + 8).equals(sha)) {
                    throw new IOException(page + ": index says sha256 " + href.substring(hash + 8) + " for " + name
                            + " but the file served has " + sha);
                }
                out.add(new MirrorFile(name, rel, sha, size[0]));
            }
            return out;
        }

        private String download(URI file, long[] size) throws IOException {
            HttpResponse<InputStream> resp = send(HttpRequest.newBuilder(file).timeout(Duration.ofMinutes(5)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            MessageDigest md = Hashing.sha256();
            try (InputStream in = resp.body()) {
                if (resp.statusCode() != 200) {
                    throw new IOException(file + " answered HTTP " + resp.statusCode());
                }
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                    size[0] += n;
                }
            }
            return Hashing.hex(md.digest());
        }

        private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> h) throws IOException {
            try {
                return client.send(req, h);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }

        @Override
        public String describe() {
            return base.toString();
        }
    }
}

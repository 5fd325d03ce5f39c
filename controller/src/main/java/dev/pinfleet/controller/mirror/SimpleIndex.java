package dev.pinfleet.controller.mirror;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Python package index's simple API, as pip reads it: a project's page asked for as PEP 691 JSON (files with
 * {@code hashes}) and read as PEP 503 HTML when the index answers with that (anchors with {@code #sha256=}
 * fragments). PyPI, devpi, Artifactory, another pinfleet mirror or nginx over a directory laid out as a simple index
 * all answer one or the other. Files may live on another host (PyPI's files.pythonhosted.org): their links are
 * resolved against the page, http(s) only.
 */
final class SimpleIndex {
    static final String JSON = "application/vnd.pypi.simple.v1+json";
    private static final Pattern ANCHOR = Pattern.compile("<a\\s([^>]*)>([^<]*)</a>", Pattern.CASE_INSENSITIVE);
    private static final Pattern HREF = Pattern.compile("href\\s*=\\s*\"([^\"]*)\"", Pattern.CASE_INSENSITIVE);

    /**
     * One file a project page lists.
     *
     * @param filename its name
     * @param url      where to download it
     * @param sha256   the sha256 the index gives for it (lowercase hex), or "" when it gives none
     */
    record File(String filename, URI url, String sha256) {}

    /**
     * A downloaded file.
     *
     * @param path   where it was written
     * @param sha256 sha256 of the bytes received
     * @param size   bytes received
     */
    record Download(Path path, String sha256, long size) {}

    private final URI index;
    private final HttpClient client;

    SimpleIndex(URI index, HttpClient client) {
        String s = index.toString();
        this.index = URI.create(s.endsWith("/") ? s : s + "/");
        this.client = client;
    }

    URI base() {
        return index;
    }

    /** The page URL of {@code project} (normalized). */
    URI page(String project) {
        return index.resolve(Names.normalizeProject(project) + "/");
    }

    /** The files the index lists for {@code project}; empty when it has no such project (HTTP 404). */
    List<File> files(String project) throws IOException {
        URI page = page(project);
        HttpResponse<String> resp = send(HttpRequest.newBuilder(page).timeout(Duration.ofSeconds(60))
                .header("Accept", JSON + ", application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1").build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8), page);
        if (resp.statusCode() == 404) {
            return List.of();
        }
        if (resp.statusCode() != 200) {
            throw new IOException(page + " answered HTTP " + resp.statusCode());
        }
        URI at = resp.uri();
        String type = resp.headers().firstValue("Content-Type").orElse("").toLowerCase(Locale.ROOT);
        return type.startsWith(JSON) || type.startsWith("application/json") ? json(at, resp.body()) : html(at, resp.body());
    }

    private static List<File> json(URI page, String body) throws IOException {
        List<File> out = new ArrayList<>();
        try {
            JsonObject root = JsonParser.parseString(body).getAsJsonObject();
            JsonArray files = root.getAsJsonArray("files");
            if (files == null) {
                throw new IOException(page + ": a PEP 691 page without \"files\"");
            }
            for (JsonElement e : files) {
                JsonObject f = e.getAsJsonObject();
                JsonObject hashes = f.has("hashes") && f.get("hashes").isJsonObject() ? f.getAsJsonObject("hashes") : null;
                String sha = hashes != null && hashes.has("sha256") ? hashes.get("sha256").getAsString() : "";
                out.add(new File(f.get("filename").getAsString(), link(page, f.get("url").getAsString()),
                        sha.toLowerCase(Locale.ROOT)));
            }
        } catch (JsonParseException | IllegalStateException | NullPointerException | UnsupportedOperationException e) {
            throw new IOException(page + ": not a PEP 691 JSON page (" + e.getMessage() + ")", e);
        }
        return out;
    }

    private static List<File> html(URI page, String body) throws IOException {
        List<File> out = new ArrayList<>();
        Matcher m = ANCHOR.matcher(body);
        while (m.find()) {
            Matcher h = HREF.matcher(m.group(1));
            if (!h.find()) {
                continue;
            }
            String href = h.group(1).replace("&amp;", "&");
            int hash = href.indexOf('#');
            String fragment = hash >= 0 ? href.substring(hash + 1) : "";
            URI url = link(page, hash >= 0 ? href.substring(0, hash) : href);
            String name = m.group(2).strip();
            if (name.isEmpty()) {
                String path = url.getPath();
                name = URLDecoder.decode(path.substring(path.lastIndexOf('/') + 1), StandardCharsets.UTF_8);
            }
            out.add(new File(name, url, fragment.startsWith("sha256=") ? fragment.substring(7).toLowerCase(Locale.ROOT) : ""));
        }
        return out;
    }

    private static URI link(URI page, String href) throws IOException {
        URI url;
        try {
            url = page.resolve(href.strip());
        } catch (IllegalArgumentException e) {
            throw new IOException(page + " links to '" + Names.printable(href) + "', not a URL");
        }
        if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme())) {
            throw new IOException(page + " links to " + url + ": only http and https are followed");
        }
        return url;
    }

    /** Downloads {@code f} into {@code dir} under its file name, hashing as the bytes arrive. */
    Download download(File f, Path dir) throws IOException {
        String bad = Names.checkFileName(f.filename());
        if (bad != null) {
            throw new IOException(f.url() + ": " + bad);
        }
        Path out = dir.resolve(f.filename());
        HttpResponse<InputStream> resp = send(HttpRequest.newBuilder(f.url()).timeout(Duration.ofMinutes(10)).build(),
                HttpResponse.BodyHandlers.ofInputStream(), f.url());
        MessageDigest md = Hashing.sha256();
        long size = 0;
        try (InputStream in = resp.body()) {
            if (resp.statusCode() != 200) {
                throw new IOException(f.url() + " answered HTTP " + resp.statusCode());
            }
            try (OutputStream o = Files.newOutputStream(out)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                    o.write(buf, 0, n);
                    size += n;
                }
            }
        }
        return new Download(out, Hashing.hex(md.digest()), size);
    }

    private <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> h, URI what) throws IOException {
        try {
            return client.send(req, h);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching " + what, e);
        } catch (IOException e) {
            throw new IOException("cannot fetch " + what + ": " + (e.getMessage() == null
                    ? e.getClass().getSimpleName().replaceAll("(?<=[a-z])(?=[A-Z])", " ").toLowerCase(Locale.ROOT)
                    : e.getMessage()), e);
        }
    }
}

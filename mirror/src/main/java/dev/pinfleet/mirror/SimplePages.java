package dev.pinfleet.mirror;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.pinfleet.json.ProtoJson;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.List;

/**
 * Renders the simple repository API: PEP 503 HTML (what the static index on disk holds) and PEP 691
 * JSON. Links are relative ({@code ../../packages/<project>/<file>#sha256=<hex>}), so the pages work at
 * any host and under any path prefix, from Netty or from nginx.
 */
public final class SimplePages {
    private SimplePages() {}

    /** PEP 691 JSON media type (version 1). */
    public static final String JSON_TYPE = "application/vnd.pypi.simple.v1+json";
    /** PEP 691 HTML media type (version 1). */
    public static final String HTML_TYPE = "application/vnd.pypi.simple.v1+html";

    /** The root page: one link per project, in the given order. */
    public static String rootHtml(Collection<String> projects) {
        StringBuilder b = head("Simple index");
        for (String p : projects) {
            b.append("    <a href=\"").append(html(url(p))).append("/\">").append(html(p)).append("</a><br>\n");
        }
        return tail(b);
    }

    /** A project page: one link per file with its sha256 fragment and data-requires-python. */
    public static String projectHtml(String project, List<IndexedFile> files) {
        StringBuilder b = head("Links for " + project);
        b.append("    <h1>Links for ").append(html(project)).append("</h1>\n");
        for (IndexedFile f : files) {
            b.append("    <a href=\"").append(html(href(f))).append('"');
            if (!f.requiresPython().isEmpty()) {
                b.append(" data-requires-python=\"").append(html(f.requiresPython())).append('"');
            }
            b.append('>').append(html(f.filename())).append("</a><br>\n");
        }
        return tail(b);
    }

    /** The root page as PEP 691 JSON. */
    public static String rootJson(Collection<String> projects) {
        JsonArray list = new JsonArray();
        for (String p : projects) {
            JsonObject o = new JsonObject();
            o.addProperty("name", p);
            list.add(o);
        }
        JsonObject page = pep691();
        page.add("projects", list);
        return ProtoJson.line(page) + "\n";
    }

    /** A project page as PEP 691 JSON. */
    public static String projectJson(String project, List<IndexedFile> files) {
        JsonArray list = new JsonArray();
        for (IndexedFile f : files) {
            JsonObject o = new JsonObject();
            o.addProperty("filename", f.filename());
            o.addProperty("url", fileUrl(f));
            JsonObject hashes = new JsonObject();
            hashes.addProperty("sha256", f.sha256());
            o.add("hashes", hashes);
            if (!f.requiresPython().isEmpty()) {
                o.addProperty("requires-python", f.requiresPython());
            }
            list.add(o);
        }
        JsonObject page = pep691();
        page.addProperty("name", project);
        page.add("files", list);
        return ProtoJson.line(page) + "\n";
    }

    /** A PEP 691 page with its {@code meta}: a format of its own (hyphenated keys), built as a tree, not a proto. */
    private static JsonObject pep691() {
        JsonObject meta = new JsonObject();
        meta.addProperty("api-version", "1.0");
        JsonObject page = new JsonObject();
        page.add("meta", meta);
        return page;
    }

    /** The file's URL relative to its project page, without fragment. */
    public static String fileUrl(IndexedFile f) {
        return "../../" + MirrorIndex.PACKAGES + "/" + url(f.project()) + "/" + url(f.filename());
    }

    private static String href(IndexedFile f) {
        return fileUrl(f) + "#sha256=" + f.sha256();
    }

    private static StringBuilder head(String title) {
        return new StringBuilder(256).append("<!DOCTYPE html>\n<html>\n  <head>\n")
                .append("    <meta name=\"pypi:repository-version\" content=\"1.0\">\n")
                .append("    <title>").append(html(title)).append("</title>\n  </head>\n  <body>\n");
    }

    private static String tail(StringBuilder b) {
        return b.append("  </body>\n</html>\n").toString();
    }

    /** Escapes text for HTML content and double- or single-quoted attributes. */
    public static String html(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** Percent-encodes one path segment: everything but RFC 3986 unreserved characters and '+', '!'. */
    public static String url(String segment) {
        StringBuilder b = new StringBuilder(segment.length() + 8);
        for (byte x : segment.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '!') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return b.toString();
    }
}

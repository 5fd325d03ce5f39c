package dev.pinfleet.mirror.serve;

import dev.pinfleet.mirror.MirrorIndex;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * The nginx {@code server} block that serves a mirror directory exactly as {@link MirrorServer} does, from the
 * static layout alone: {@code /simple/} from the {@code index.html} pages, {@code /packages/} as files, and
 * nothing else. The audit log, the uploaders file, the policy directory, the index cache, staging and
 * incoming directories and every dot-file are answered 404, directory listings are off, and symbolic links
 * below the mirror directory are not followed. {@code pinfleet mirror nginx-conf} prints it; the README shows
 * it; the nginx test runs it.
 */
public final class NginxConfig {
    private NginxConfig() {}

    static final Pattern LISTEN = Pattern.compile("[A-Za-z0-9.:\\[\\]]+");
    static final Pattern SERVER_NAME = Pattern.compile("[A-Za-z0-9.*_-]+");
    private static final Pattern UPSTREAM = Pattern.compile("https?://[A-Za-z0-9.:\\[\\]-]+/?");

    /**
     * The server block.
     *
     * @param mirror     the mirror directory (absolute in the output)
     * @param listen     nginx {@code listen} value, e.g. {@code 80} or {@code 127.0.0.1:8080}
     * @param serverName nginx {@code server_name}, e.g. {@code mirror.internal}
     * @param uploadsTo  base URL of a {@code pinfleet mirror serve --tokens} to pass {@code /upload/} to, or
     *                   null to leave uploads out (nginx itself never writes the mirror)
     * @param maxUploadBytes body limit for proxied uploads (ignored without {@code uploadsTo})
     * @throws IllegalArgumentException when a value could break out of its directive
     */
    public static String serverBlock(Path mirror, String listen, String serverName, String uploadsTo,
            long maxUploadBytes) {
        String root = safePath(mirror, "mirror path");
        check(LISTEN, listen, "listen");
        check(SERVER_NAME, serverName, "server name");
        if (uploadsTo != null) {
            check(UPSTREAM, uploadsTo, "upload upstream");
        }
        StringBuilder b = new StringBuilder();
        b.append("server {\n");
        b.append("    listen ").append(listen).append(";\n");
        b.append("    server_name ").append(serverName).append(";\n");
        b.append("    root ").append(root).append(";\n");
        b.append("    autoindex off;\n");
        b.append("    disable_symlinks on from=$document_root;\n");
        b.append("\n");
        b.append("    # Dot-files anywhere: the index cache, staging and incoming uploads, temporary files.\n");
        b.append("    location ~ /\\. { return 404; }\n");
        b.append("\n");
        b.append("    # The PEP 503 simple index, as static pages written by pinfleet.\n");
        b.append("    location /").append(MirrorIndex.SIMPLE).append("/ {\n");
        b.append("        index ").append(MirrorIndex.INDEX_HTML).append(";\n");
        b.append("        types { }\n");
        b.append("        default_type \"text/html; charset=utf-8\";\n");
        b.append("    }\n");
        b.append("\n");
        b.append("    # Published files: append-only, so they may be cached for long.\n");
        b.append("    location /").append(MirrorIndex.PACKAGES).append("/ {\n");
        b.append("        try_files $uri =404;\n");
        b.append("        types { }\n");
        b.append("        default_type application/octet-stream;\n");
        b.append("        add_header Cache-Control \"public, max-age=31536000, immutable\";\n");
        b.append("    }\n");
        if (uploadsTo != null) {
            b.append("\n");
            b.append("    # Uploads go to 'pinfleet mirror serve --tokens', which checks tokens and sign-off.\n");
            b.append("    location /").append(UploadHandler.PREFIX).append("/ {\n");
            b.append("        client_max_body_size ").append(maxUploadBytes).append(";\n");
            b.append("        proxy_request_buffering off;\n");
            b.append("        proxy_pass ").append(uploadsTo.endsWith("/") ? uploadsTo.substring(0, uploadsTo.length() - 1)
                    : uploadsTo).append(";\n");
            b.append("    }\n");
        }
        b.append("\n");
        b.append("    # Everything else: audit.log, uploaders, policy/, the mirror root itself.\n");
        b.append("    location / { return 404; }\n");
        b.append("}\n");
        return b.toString();
    }

    /**
     * A complete {@code nginx.conf} around {@code serverBlock} for running nginx in the foreground from a private
     * prefix directory, as {@code nginx -p PREFIX -e PREFIX/error.log -c PREFIX/nginx.conf -g 'daemon off;'}:
     * pid, logs and temporary directories inside {@code prefix}, one worker. For development and tests; a
     * real installation puts the server block into its distribution's nginx configuration instead.
     *
     * @param workerUser the {@code user} directive's value (e.g. {@code "nobody nogroup"}) when the master runs
     *                   as root, else null
     */
    public static String standalone(String serverBlock, Path prefix, String workerUser) {
        String p = prefix.toAbsolutePath().normalize().toString();
        StringBuilder b = new StringBuilder();
        if (workerUser != null) {
            b.append("user ").append(workerUser).append(";\n");
        }
        b.append("worker_processes 1;\n");
        b.append("pid ").append(p).append("/nginx.pid;\n");
        b.append("error_log ").append(p).append("/error.log warn;\n");
        b.append("events { worker_connections 256; }\n");
        b.append("http {\n");
        b.append("    access_log ").append(p).append("/access.log;\n");
        for (String t : new String[] {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
            b.append("    ").append(t).append("_temp_path ").append(p).append("/").append(t).append("_temp;\n");
        }
        b.append("    sendfile on;\n");
        for (String line : serverBlock.split("\n")) {
            b.append(line.isEmpty() ? "" : "    " + line).append('\n');
        }
        b.append("}\n");
        return b.toString();
    }

    /** {@code path} made absolute and normal, refused when nginx would need it quoted. */
    static String safePath(Path path, String what) {
        if (path == null) {
            throw new IllegalArgumentException(what + " is missing");
        }
        String p = path.toAbsolutePath().normalize().toString();
        if (!p.matches("[A-Za-z0-9._/+@-]+")) {
            throw new IllegalArgumentException(what + " '" + p + "' has characters nginx would need quoted; "
                    + "use a path of letters, digits and ._/+@-");
        }
        return p;
    }

    static void check(Pattern p, String value, String what) {
        if (value == null || !p.matcher(value).matches()) {
            throw new IllegalArgumentException(what + " '" + value + "' must match " + p.pattern());
        }
    }
}

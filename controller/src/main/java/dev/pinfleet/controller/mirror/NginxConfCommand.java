package dev.pinfleet.controller.mirror;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.mirror.serve.NginxConfig;
import dev.pinfleet.mirror.serve.NginxTier;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** `pinfleet mirror nginx-conf`: the nginx configuration of an origin mirror (--mirror DIR) or of a cache tier (--cache-of). */
@Command(name = "nginx-conf", description = {
    "Print the nginx configuration of a mirror (--mirror DIR) or of a cache tier (--cache-of URL).",
    "",
    "With --mirror DIR: the server block that serves DIR read-only: /simple/ and /packages/ only; "
    + "audit.log, uploaders, policy/ and dot-files are 404; no directory listings; no "
    + "symbolic links followed.",
    "",
    "With --cache-of URL: a cache tier in front of that origin, for nginx's http context "
    + "(proxy_cache_path and a server block): package files fetched once per tier and "
    + "cached for good, in slices (one origin fetch per slice however many agents ask), "
    + "Range requests served from the slices, index pages revalidated, the same refusals "
    + "as the origin, the cache status in the X-Pinfleet-Cache header. The same template "
    + "as the Ansible role pinfleet_mirror with pinfleet_mirror_cache_of; each option "
    + "below is the role variable of the same name."})
public final class NginxConfCommand implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec CommandSpec spec;

    @Mixin MirrorDir mirror;

    @Option(names = "--listen", defaultValue = "80", description = "nginx listen value (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--server-name", defaultValue = "_", description = "nginx server_name (default: ${DEFAULT-VALUE}).")
    String serverName;

    @Option(names = "--uploads-to", paramLabel = "URL",
            description = "Proxy /upload/ to this 'pinfleet mirror serve --tokens' (e.g. http://127.0.0.1:8080); not with --cache-of.")
    String uploadsTo;

    @Option(names = "--max-upload-mb", defaultValue = "1024", paramLabel = "MB",
            description = "Body limit for proxied uploads, in MiB (default: ${DEFAULT-VALUE}).")
    long maxUploadMb;

    @Option(names = "--cache-of", paramLabel = "URL",
            description = "Base URL of the origin mirror (http or https) this host caches: prints a cache tier.")
    String cacheOf;

    @Option(names = "--cache-dir", paramLabel = "DIR", defaultValue = NginxTier.DEFAULT_CACHE_DIR,
            description = "Cache directory, writable by nginx's workers (default: ${DEFAULT-VALUE}).")
    Path cacheDir;

    @Option(names = "--cache-max-size", paramLabel = "SIZE", defaultValue = NginxTier.DEFAULT_MAX_SIZE,
            description = "Bound of the cache on disk, nginx size: k, m, g (default: ${DEFAULT-VALUE}).")
    String maxSize;

    @Option(names = "--cache-inactive", paramLabel = "TIME", defaultValue = NginxTier.DEFAULT_INACTIVE,
            description = "A cached file unused this long is removed, nginx time: s, m, h, d (default: ${DEFAULT-VALUE}).")
    String inactive;

    @Option(names = "--cache-keys-size", paramLabel = "SIZE", defaultValue = NginxTier.DEFAULT_KEYS_SIZE,
            description = "Shared memory for the cache keys; 1m holds about 8,000 (default: ${DEFAULT-VALUE}).")
    String keysSize;

    @Option(names = "--cache-index-valid", paramLabel = "TIME", defaultValue = NginxTier.DEFAULT_INDEX_VALID,
            description = "Index pages are revalidated with the origin after this (default: ${DEFAULT-VALUE}).")
    String indexValid;

    @Option(names = "--cache-slice", paramLabel = "SIZE", defaultValue = NginxTier.DEFAULT_SLICE,
            description = "Package files are fetched and cached in slices of this size; 0: whole files (default: ${DEFAULT-VALUE}).")
    String slice;

    @Option(names = "--cache-lock-timeout", paramLabel = "TIME", defaultValue = NginxTier.DEFAULT_LOCK_TIMEOUT,
            description = "How long a request waits for another one fetching the same slice; keep it under the "
                    + "agents' fetch-idle-timeout (default: ${DEFAULT-VALUE}).")
    String lockTimeout;

    @Option(names = "--cache-origin-ca", paramLabel = "FILE", defaultValue = NginxTier.DEFAULT_ORIGIN_CA,
            description = "CA certificates (PEM) an https origin's certificate must chain to (default: ${DEFAULT-VALUE}).")
    Path originCa;

    @Override
    public Integer call() {
        Path dir = mirror.given();
        if ((dir == null) == (cacheOf == null)) {
            throw new CliException("nginx-conf needs either --mirror DIR (an origin, the directory as nginx will see it) or --cache-of URL "
                    + "(a cache tier), not " + (dir == null ? "neither" : "both"), 2);
        }
        if (cacheOf != null && uploadsTo != null) {
            throw new CliException("--uploads-to is for an origin: a cache tier never takes uploads "
                    + "(publish to the origin)", 2);
        }
        String conf;
        try {
            conf = cacheOf != null
                    ? new NginxTier(cacheOf, listen, serverName, cacheDir, keysSize, maxSize, inactive, indexValid,
                            slice, lockTimeout, originCa).render()
                    : NginxConfig.serverBlock(dir, listen, serverName, uploadsTo, maxUploadMb << 20);
        } catch (IllegalArgumentException e) {
            throw new CliException(e.getMessage(), 2);
        }
        spec.commandLine().getOut().print(conf);
        spec.commandLine().getOut().flush();
        return 0;
    }
}

package dev.pinfleet.mirror.serve;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The nginx configuration of a mirror <b>cache tier</b>: {@code proxy_cache} in front of an origin mirror, package
 * files cached for good (sliced, one origin fetch per slice however many agents ask), index pages revalidated, the
 * same refusals as the origin, the cache status in the {@code X-Pinfleet-Cache} header. It is the Ansible role's
 * template {@code ansible/roles/pinfleet_mirror/templates/pinfleet-mirror-tier.conf.j2}, which the build puts into
 * this jar, rendered with the values the role's variables of the same names would have: one source, printed by
 * {@code pinfleet mirror nginx-conf --cache-of URL} for those who install nginx without Ansible. The output
 * belongs in nginx's {@code http} context ({@code proxy_cache_path} and a {@code server} block).
 *
 * @param origin      base URL of the origin mirror (http or https; a path is kept), normalized to end with '/'
 * @param listen      nginx {@code listen} value, e.g. {@code 80} or {@code 10.0.2.5:80}
 * @param serverName  nginx {@code server_name}
 * @param cacheDir    absolute directory of the cache ({@code proxy_cache_path}); nginx's workers write it
 * @param keysSize    shared memory for the cache keys (nginx size: {@code 16m} holds about 128,000 keys)
 * @param maxSize     bound of the cache on disk (nginx size, e.g. {@code 20g}); the least recently used go first
 * @param inactive    an entry unused for this long is removed (nginx time, e.g. {@code 30d})
 * @param indexValid  how long an index page is served before it is revalidated with the origin (nginx time)
 * @param slice       package files are fetched and cached in slices of this size (nginx size; {@code 0}: whole)
 * @param lockTimeout how long a request waits for another one fetching the same slice, and how long a fetch may
 *                    take before one more is sent to the origin (nginx time)
 * @param originCa    CA certificates (PEM) an https origin's certificate is checked against
 */
public record NginxTier(String origin, String listen, String serverName, Path cacheDir, String keysSize,
        String maxSize, String inactive, String indexValid, String slice, String lockTimeout, Path originCa) {

    /** The template's file name, in this package's resources and in the role's templates directory. */
    public static final String TEMPLATE = "pinfleet-mirror-tier.conf.j2";
    // Defaults: the role's defaults/main.yml says the same (NginxTierTest compares them).
    public static final String DEFAULT_CACHE_DIR = "/var/cache/nginx/pinfleet-mirror";
    public static final String DEFAULT_KEYS_SIZE = "16m";
    public static final String DEFAULT_MAX_SIZE = "20g";
    public static final String DEFAULT_INACTIVE = "30d";
    public static final String DEFAULT_INDEX_VALID = "10s";
    public static final String DEFAULT_SLICE = "8m";
    public static final String DEFAULT_LOCK_TIMEOUT = "20s";
    public static final String DEFAULT_ORIGIN_CA = "/etc/ssl/certs/ca-certificates.crt";

    private static final Pattern ORIGIN = Pattern.compile(
            "https?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?");
    private static final Pattern SIZE = Pattern.compile("[0-9]{1,12}[kKmMgG]?");
    private static final Pattern TIME = Pattern.compile("[0-9]{1,9}(ms|s|m|h|d)?");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{ ([a-z_]+) }}");

    /** Checks every value (each must stay inside its directive) and normalizes the origin URL. */
    public NginxTier {
        if (origin == null || !ORIGIN.matcher(origin).matches()) {
            throw new IllegalArgumentException("origin URL '" + origin + "' must be http(s)://HOST[:PORT][/PATH] "
                    + "(no user, query or fragment; path of letters, digits and ._~/-)");
        }
        origin = origin.replaceAll("/+$", "") + "/";
        NginxConfig.check(NginxConfig.LISTEN, listen, "listen");
        NginxConfig.check(NginxConfig.SERVER_NAME, serverName, "server name");
        cacheDir = Path.of(NginxConfig.safePath(cacheDir, "cache directory"));
        NginxConfig.check(SIZE, keysSize, "cache keys size");
        NginxConfig.check(SIZE, maxSize, "cache max size");
        NginxConfig.check(TIME, inactive, "cache inactive time");
        NginxConfig.check(TIME, indexValid, "index validity");
        NginxConfig.check(SIZE, slice, "slice size");
        NginxConfig.check(TIME, lockTimeout, "cache lock timeout");
        originCa = Path.of(NginxConfig.safePath(originCa, "origin CA file"));
    }

    /** A tier of {@code origin} with every other setting at its default. */
    public static NginxTier of(String origin, String listen, String serverName) {
        return new NginxTier(origin, listen, serverName, Path.of(DEFAULT_CACHE_DIR), DEFAULT_KEYS_SIZE,
                DEFAULT_MAX_SIZE, DEFAULT_INACTIVE, DEFAULT_INDEX_VALID, DEFAULT_SLICE, DEFAULT_LOCK_TIMEOUT,
                Path.of(DEFAULT_ORIGIN_CA));
    }

    /** The same tier with its cache in {@code dir}. */
    public NginxTier withCacheDir(Path dir) {
        return new NginxTier(origin, listen, serverName, dir, keysSize, maxSize, inactive, indexValid, slice,
                lockTimeout, originCa);
    }

    /** The template's variables, named as the role names them, with this tier's values. */
    public Map<String, String> variables() {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("ansible_managed", "printed by `pinfleet mirror nginx-conf --cache-of " + origin + "`");
        v.put("pinfleet_mirror_cache_origin", origin);
        v.put("pinfleet_mirror_listen", listen);
        v.put("pinfleet_mirror_server_name", serverName);
        v.put("pinfleet_mirror_path_cache", cacheDir.toString());
        v.put("pinfleet_mirror_cache_keys_size", keysSize);
        v.put("pinfleet_mirror_cache_max_size", maxSize);
        v.put("pinfleet_mirror_cache_inactive", inactive);
        v.put("pinfleet_mirror_cache_index_valid", indexValid);
        v.put("pinfleet_mirror_cache_slice", slice);
        v.put("pinfleet_mirror_cache_lock_timeout", lockTimeout);
        v.put("pinfleet_mirror_cache_origin_ca", originCa.toString());
        return v;
    }

    /** The configuration: the template with this tier's values. */
    public String render() {
        return render(template(), variables());
    }

    /** The template's text, from this jar. */
    static String template() {
        try (InputStream in = NginxTier.class.getResourceAsStream(TEMPLATE)) {
            if (in == null) {
                throw new IllegalStateException(TEMPLATE + " is missing from the jar (the build copies it from "
                        + "ansible/roles/pinfleet_mirror/templates)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + TEMPLATE + " from the jar", e);
        }
    }

    /**
     * Replaces each {@code {{ name }}} with its value, as Jinja would for plain string variables.
     *
     * @throws IllegalStateException when the template names a variable {@code vars} lacks, or uses any other Jinja
     *                               (statements, comments, filters), which this renderer would not apply the same way
     */
    static String render(String template, Map<String, String> vars) {
        Matcher m = PLACEHOLDER.matcher(template);
        StringBuilder out = new StringBuilder(template.length() + 512);
        while (m.find()) {
            String value = vars.get(m.group(1));
            if (value == null) {
                throw new IllegalStateException(TEMPLATE + " names {{ " + m.group(1) + " }}, which has no value here");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        m.appendTail(out);
        String rendered = out.toString();
        for (String jinja : new String[] {"{{", "{%", "{#"}) {
            int at = rendered.indexOf(jinja);
            if (at >= 0) {
                int line = (int) rendered.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
                throw new IllegalStateException(TEMPLATE + " line " + line + " uses Jinja beyond '{{ variable }}' ("
                        + jinja + "): only plain substitutions render the same in Ansible and in pinfleet");
            }
        }
        return rendered;
    }
}

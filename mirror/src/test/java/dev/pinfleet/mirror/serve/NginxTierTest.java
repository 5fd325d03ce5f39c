package dev.pinfleet.mirror.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The cache tier's configuration has one source, the Ansible role's template, rendered here as Ansible renders it:
 * the jar's copy is the role's file byte for byte, every variable the template names is one the role defines (a
 * default or a derived var) and one {@link NginxTier} gives, the defaults agree, and values that could leave their
 * directive are refused. (ansible/tests/converge.sh diffs the role's rendering against the CLI's output for real;
 * RealNginxTierTest runs it in nginx.)
 */
class NginxTierTest {
    static final Path ROLE = Path.of("..", "ansible", "roles", "pinfleet_mirror");

    /** Top-level {@code name: value} lines of a YAML file (values as written, quotes removed). */
    private static Map<String, String> yamlScalars(Path file) throws Exception {
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^([a-z_]+):[ ]*(.*)$").matcher(Files.readString(file, StandardCharsets.UTF_8));
        while (m.find()) {
            out.put(m.group(1), m.group(2).strip().replaceAll("^\"(.*)\"$", "$1"));
        }
        return out;
    }

    @Test
    void theJarCarriesTheRolesTemplateByteForByte() throws Exception {
        assertEquals(Files.readString(ROLE.resolve("templates").resolve(NginxTier.TEMPLATE)), NginxTier.template(),
                "the build copies ansible/roles/pinfleet_mirror/templates/" + NginxTier.TEMPLATE + " into the jar");
    }

    @Test
    void everyVariableTheTemplateNamesIsTheRolesAndTheTiers() throws Exception {
        Matcher m = Pattern.compile("\\{\\{ ([a-z_]+) }}").matcher(NginxTier.template());
        TreeSet<String> named = new TreeSet<>();
        while (m.find()) {
            named.add(m.group(1));
        }
        Map<String, String> vars = NginxTier.of("http://10.0.0.5/", "80", "cache-a").variables();
        assertEquals(new TreeSet<>(vars.keySet()), named, "the template's variables vs NginxTier.variables()");
        Map<String, String> role = new LinkedHashMap<>(yamlScalars(ROLE.resolve("defaults/main.yml")));
        role.putAll(yamlScalars(ROLE.resolve("vars/main.yml")));
        for (String name : named) {
            assertTrue(name.equals("ansible_managed") || role.containsKey(name),
                    name + " is neither a default nor a var of the pinfleet_mirror role");
        }
    }

    @Test
    void theRolesDefaultsAreTheCliDefaults() throws Exception {
        Map<String, String> d = yamlScalars(ROLE.resolve("defaults/main.yml"));
        assertEquals("", d.get("pinfleet_mirror_cache_of"), "the role is an origin unless told otherwise");
        Map<String, String> expected = Map.of(
                "pinfleet_mirror_cache_dir", NginxTier.DEFAULT_CACHE_DIR,
                "pinfleet_mirror_cache_keys_size", NginxTier.DEFAULT_KEYS_SIZE,
                "pinfleet_mirror_cache_max_size", NginxTier.DEFAULT_MAX_SIZE,
                "pinfleet_mirror_cache_inactive", NginxTier.DEFAULT_INACTIVE,
                "pinfleet_mirror_cache_index_valid", NginxTier.DEFAULT_INDEX_VALID,
                "pinfleet_mirror_cache_slice", NginxTier.DEFAULT_SLICE,
                "pinfleet_mirror_cache_lock_timeout", NginxTier.DEFAULT_LOCK_TIMEOUT,
                "pinfleet_mirror_cache_origin_ca", NginxTier.DEFAULT_ORIGIN_CA);
        expected.forEach((var, value) -> assertEquals(value, d.get(var), var + " in the role's defaults"));
    }

    @Test
    void rendersEveryValueIntoItsDirective() {
        NginxTier t = new NginxTier("https://mirror1.internal:8443/pinfleet//", "10.0.2.5:80", "cache-a.internal",
                Path.of("/srv/cache"), "4m", "500g", "7d", "30s", "1m", "15s", Path.of("/etc/pinfleet/ca.pem"));
        assertEquals("https://mirror1.internal:8443/pinfleet/", t.origin());
        String conf = t.render();
        for (String line : List.of(
                "proxy_cache_path /srv/cache levels=1:2 keys_zone=pinfleet_mirror:4m max_size=500g inactive=7d use_temp_path=off;",
                "    listen 10.0.2.5:80;", "    server_name cache-a.internal;",
                "        proxy_pass https://mirror1.internal:8443/pinfleet/simple/;",
                "        proxy_pass https://mirror1.internal:8443/pinfleet/packages/;",
                "        proxy_cache_valid 200 30s;", "        slice 1m;", "        proxy_cache_lock_timeout 15s;",
                "        proxy_cache_lock_age 15s;", "    proxy_ssl_trusted_certificate /etc/pinfleet/ca.pem;",
                "    add_header X-Pinfleet-Cache $upstream_cache_status always;")) {
            assertTrue(conf.lines().anyMatch(line::equals), "missing: " + line + "\n" + conf);
        }
        assertTrue(conf.startsWith("# printed by `pinfleet mirror nginx-conf --cache-of https://mirror1.internal:8443/pinfleet/`\n"));
        assertFalse(conf.contains("{{") || conf.contains("{%"), conf);
    }

    @Test
    void refusesValuesThatCouldLeaveTheirDirective() {
        NginxTier ok = NginxTier.of("http://10.0.0.5", "80", "cache");
        assertEquals("http://10.0.0.5/", ok.origin());
        for (String origin : List.of("ftp://x/", "http://x/?a=1", "http://user@x/", "http://x/#f", "http://x/a b",
                "http://x/;evil", "http://x/$uri", "x/")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NginxTier.of(origin, "80", "cache"), origin);
            assertTrue(e.getMessage().contains("origin URL '" + origin + "'"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> NginxTier.of("http://x/", "80; evil", "cache"));
        assertThrows(IllegalArgumentException.class, () -> NginxTier.of("http://x/", "80", "a b"));
        assertThrows(IllegalArgumentException.class, () -> ok.withCacheDir(Path.of("/var/cache/a b")));
        assertThrows(IllegalArgumentException.class, () -> new NginxTier("http://x/", "80", "c", Path.of("/c"), "16m",
                "20g;", "30d", "10s", "8m", "20s", Path.of("/ca")));
        assertThrows(IllegalArgumentException.class, () -> new NginxTier("http://x/", "80", "c", Path.of("/c"), "16m",
                "20g", "30 days", "10s", "8m", "20s", Path.of("/ca")));
    }

    @Test
    void theRendererRefusesJinjaItWouldNotRenderAsAnsibleDoes() {
        Map<String, String> v = Map.of("a", "1");
        assertEquals("x 1 y\n", NginxTier.render("x {{ a }} y\n", v));
        IllegalStateException unknown = assertThrows(IllegalStateException.class, () -> NginxTier.render("{{ b }}", v));
        assertTrue(unknown.getMessage().contains("{{ b }}"), unknown.getMessage());
        for (String jinja : List.of("{% if a %}x{% endif %}", "{{ a | upper }}", "{# note #}", "{{a}}")) {
            assertThrows(IllegalStateException.class, () -> NginxTier.render("ok\n" + jinja, v), jinja);
        }
    }
}

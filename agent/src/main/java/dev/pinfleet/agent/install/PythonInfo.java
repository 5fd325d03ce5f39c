package dev.pinfleet.agent.install;

import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.Tags;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The target Python interpreter, probed once at agent start by running it.
 *
 * @param executable the real interpreter binary, symlinks and pyenv shims resolved
 * @param version "MAJOR.MINOR", e.g. "3.11"
 * @param fullVersion e.g. "3.11.7"
 * @param implementation short implementation name: "cp" for CPython, "pp" for PyPy
 * @param abiTag the interpreter's ABI tag, e.g. "cp311"
 * @param platformTags supported platform tags, most specific first: manylinux_2_36_x86_64 … manylinux1_x86_64, linux_x86_64
 */
public record PythonInfo(Path executable, String version, String fullVersion, String implementation, String abiTag,
        List<String> platformTags) {

    /** Seconds a probe may take before it is considered hung. */
    static final long PROBE_TIMEOUT_SECONDS = 30;

    private static final Pattern GLIBC = Pattern.compile("glibc ([0-9]+)\\.([0-9]+).*");

    private static final String SCRIPT = String.join("\n",
            "import os, sys, sysconfig, struct",
            "exe = getattr(sys, '_base_executable', None) or sys.executable",
            "impl = {'cpython': 'cp', 'pypy': 'pp'}.get(sys.implementation.name, sys.implementation.name)",
            "v = sys.version_info",
            "if impl == 'cp':",
            "    abi = 'cp%d%d' % (v[0], v[1]) + ('d' if sysconfig.get_config_var('Py_DEBUG') else '')"
                    + " + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else '')",
            "else:",
            "    abi = '_'.join((sysconfig.get_config_var('SOABI') or 'none').split('-')[:2]).replace('.', '_')",
            "try:",
            "    libc = os.confstr('CS_GNU_LIBC_VERSION') or ''",
            "except (AttributeError, ValueError, OSError):",
            "    libc = ''",
            "plat = sysconfig.get_platform()",
            "if plat == 'linux-x86_64' and struct.calcsize('P') == 4:",
            "    plat = 'linux-i686'",
            "print('executable=' + os.path.realpath(exe))",
            "print('version=%d.%d' % (v[0], v[1]))",
            "print('full_version=%d.%d.%d' % (v[0], v[1], v[2]))",
            "print('implementation=' + impl)",
            "print('abi=' + abi)",
            "print('libc=' + libc)",
            "print('platform=' + plat)",
            "");

    public PythonInfo {
        platformTags = List.copyOf(platformTags);
    }

    /**
     * Runs {@code interpreter -c …} and reads what it reports.
     *
     * @throws IOException saying which interpreter and why when it cannot be run, fails, hangs or reports nonsense
     */
    public static PythonInfo probe(Path interpreter) throws IOException {
        if (!Files.isExecutable(interpreter) && interpreter.getNameCount() > 1) {
            throw new IOException("python interpreter " + interpreter + " cannot be run: not an executable file");
        }
        Process p;
        try {
            p = new ProcessBuilder(interpreter.toString(), "-I", "-c", SCRIPT).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("python interpreter " + interpreter + " cannot be run: " + e.getMessage(), e);
        }
        String out = readBounded(p.getInputStream());
        try {
            if (!p.waitFor(PROBE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("python interpreter " + interpreter + " did not answer the probe within "
                        + PROBE_TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while probing python interpreter " + interpreter, e);
        }
        if (p.exitValue() != 0) {
            throw new IOException("python interpreter " + interpreter + " failed the probe (exit " + p.exitValue()
                    + "): " + out.strip());
        }
        Map<String, String> kv = new HashMap<>();
        for (String line : out.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                kv.put(line.substring(0, eq), line.substring(eq + 1).strip());
            }
        }
        for (String key : List.of("executable", "version", "full_version", "implementation", "abi", "platform")) {
            if (kv.getOrDefault(key, "").isEmpty()) {
                throw new IOException("python interpreter " + interpreter + " did not report '" + key + "': " + out.strip());
            }
        }
        return new PythonInfo(Path.of(kv.get("executable")), kv.get("version"), kv.get("full_version"),
                kv.get("implementation"), kv.get("abi"), platforms(kv.get("platform"), kv.getOrDefault("libc", "")));
    }

    /** Path of site-packages relative to a virtualenv's root, e.g. "lib/python3.11/site-packages". */
    public String sitePackagesRelative() {
        return scheme().purelib();
    }

    /** Where wheels install in a virtualenv of this interpreter. */
    public InstallScheme scheme() {
        return InstallScheme.virtualenv(version);
    }

    /** The wheel tags this interpreter accepts. */
    public Tags tags() {
        return Tags.forInterpreter(implementation, version, abiTag, platformTags);
    }

    private static List<String> platforms(String sysconfigPlatform, String libc) {
        String norm = sysconfigPlatform.replace('-', '_').replace('.', '_');
        if (!sysconfigPlatform.startsWith("linux-")) {
            return List.of(norm);
        }
        String arch = norm.substring("linux_".length());
        Matcher m = GLIBC.matcher(libc);
        if (m.matches()) {
            return Tags.linuxPlatforms(arch, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
        }
        return Tags.linuxPlatforms(arch, 0, 0);
    }

    private static String readBounded(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        byte[] b = new byte[8192];
        int n;
        while ((n = in.read(b)) > 0) {
            if (buf.size() < 64 * 1024) {
                buf.write(b, 0, n);
            }
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}

package dev.pinfleet.wheel;

import dev.pinfleet.manifest.Names;
import java.util.Set;

/**
 * Where a wheel's files go when it is installed, following the binary distribution format: the archive root
 * into purelib or platlib (as the WHEEL file's Root-Is-Purelib says), {@code <name>.data/<key>/…} into the
 * directory of that key ({@code purelib}, {@code platlib}, {@code scripts}, {@code headers} (below a directory
 * named for the distribution) or {@code data}); any other {@code .data} key is refused. Launchers for entry
 * points go into {@code scripts}. Every path is relative to the environment's root, '/'-separated; the empty
 * string is the root itself.
 *
 * @param purelib the pure-Python site-packages, e.g. {@code lib/python3.11/site-packages}
 * @param platlib the platform-specific site-packages (the same directory in a virtualenv)
 * @param scripts executables, e.g. {@code bin}
 * @param headers C headers, e.g. {@code include/site/python3.11}
 * @param data    data files, e.g. the empty string (the environment's root)
 */
public record InstallScheme(String purelib, String platlib, String scripts, String headers, String data) {
    private static final Set<String> DATA_KEYS = Set.of("purelib", "platlib", "scripts", "headers", "data");

    /** The scheme of a POSIX virtualenv of CPython {@code pythonVersion} ("MAJOR.MINOR"), as pip installs into it. */
    public static InstallScheme virtualenv(String pythonVersion) {
        String site = "lib/python" + pythonVersion + "/site-packages";
        return new InstallScheme(site, site, "bin", "include/site/python" + pythonVersion, "");
    }

    /**
     * The environment path of the wheel file {@code path}.
     *
     * @param dataDir     the wheel's {@code <name>-<version>.data} directory name
     * @param project     the distribution name, as its METADATA writes it (headers go below it)
     * @param rootPurelib the WHEEL file's Root-Is-Purelib
     * @throws IllegalArgumentException as {@link #checkDataPath} says
     */
    public String target(String dataDir, String project, boolean rootPurelib, String path) {
        String[] keyAndRest = splitData(dataDir, path);
        if (keyAndRest == null) {
            return join(rootPurelib ? purelib : platlib, path);
        }
        String sub = keyAndRest[1];
        return switch (keyAndRest[0]) {
            case "purelib" -> join(purelib, sub);
            case "platlib" -> join(platlib, sub);
            case "scripts" -> join(scripts, sub);
            case "headers" -> join(join(headers, project), sub);
            default -> join(data, sub);
        };
    }

    /**
     * Null when the wheel file {@code path} has a place in every scheme, else why not: a file in the wheel's
     * {@code dataDir} must lie in one of its key directories (scripts, headers, data, purelib, platlib).
     */
    public static String checkDataPath(String dataDir, String path) {
        try {
            splitData(dataDir, path);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    /** {key, rest} for a path in {@code dataDir}, null for a path outside it. */
    private static String[] splitData(String dataDir, String path) {
        if (!path.startsWith(dataDir) || path.length() == dataDir.length() || path.charAt(dataDir.length()) != '/') {
            return null;
        }
        String rest = path.substring(dataDir.length() + 1);
        int slash = rest.indexOf('/');
        if (slash <= 0) {
            throw new IllegalArgumentException("lies directly in " + dataDir
                    + "; files there must be in scripts/, headers/, data/, purelib/ or platlib/");
        }
        String key = rest.substring(0, slash);
        if (!DATA_KEYS.contains(key)) {
            throw new IllegalArgumentException("unknown .data directory '" + Names.printable(key) + "'");
        }
        return new String[] {key, rest.substring(slash + 1)};
    }

    /** The environment path of the launcher for entry point {@code name}. */
    public String script(String name) {
        return join(scripts, name);
    }

    /** The environment path of a file the installer writes into the wheel's {@code .dist-info} directory. */
    public String distInfoFile(String distInfo, boolean rootPurelib, String file) {
        return join(join(rootPurelib ? purelib : platlib, distInfo), file);
    }

    private static String join(String dir, String rest) {
        return dir.isEmpty() ? rest : dir + "/" + rest;
    }
}

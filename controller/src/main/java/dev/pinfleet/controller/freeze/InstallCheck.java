package dev.pinfleet.controller.freeze;

import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.PathOwners;
import dev.pinfleet.wheel.WheelArchive;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What freeze checks of the pinned set as a whole, before anyone signs it: that it installs as one environment,
 * as every agent will install it.
 * <ul>
 *   <li>Every path belongs to one pin: two wheels that would write the same file with different bytes or mode, or a
 *       file where another needs a directory, are refused naming both pins and the path, by the rule the agent
 *       applies at install ({@link PathOwners}), here from each wheel's central directory and RECORD (nothing
 *       inflated). Byte-identical files (the same RECORD hash and mode) stay allowed and are listed as shared;
 *       directories may be shared (namespace packages).</li>
 *   <li>Each wheel's {@code Requires-Python} accepts the target interpreter.</li>
 * </ul>
 * Two pins of one project under different spellings are found while resolving ({@link Freezer#resolveAll}).
 */
public final class InstallCheck {
    /** At most this many paths are named per pair of pins; the rest are counted. */
    static final int PATHS_SHOWN = 3;

    private InstallCheck() {}

    /**
     * The outcome.
     *
     * @param problems every problem, pins in requirements order, each starting with the later pin's file:line
     * @param shared   paths several pins install with identical bytes, each with the pins, e.g.
     *                 {@code 'ns/py.typed': a==1.0, b==2.0}
     */
    public record Result(List<String> problems, List<String> shared) {}

    /** Checks {@code pins} for the target {@code env}, whose virtualenv installs files as {@code scheme} says. */
    public static Result check(List<Freezer.Pinned> pins, MarkerEnvironment env, InstallScheme scheme) {
        List<String> problems = new ArrayList<>();
        for (Freezer.Pinned p : pins) {
            requiresPython(p, env, problems);
        }
        PathOwners<Freezer.Pinned> owners = new PathOwners<>();
        Map<Freezer.Pinned, Integer> order = new HashMap<>();
        Map<List<Freezer.Pinned>, Clash> clashes = new LinkedHashMap<>();
        for (Freezer.Pinned p : pins) {
            order.put(p, order.size());
            for (WheelArchive.InstalledFile f : p.file().installed()) {
                note(clashes, order, owners.file(f.path(), p, f::identity));
            }
        }
        for (Freezer.Pinned p : pins) {
            Set<String> dirs = new HashSet<>();
            for (WheelArchive.InstalledFile f : p.file().installed()) {
                for (String dir : PathOwners.parents(f.path())) {
                    PathOwners.Conflict<Freezer.Pinned> c = dirs.add(dir) ? owners.directory(dir, p) : null;
                    if (c != null && c.first() != p) {
                        note(clashes, order, new PathOwners.Conflict<>(dir, c.first(), p, "a file of "
                                + c.first().describe() + ", a directory of " + p.describe()));
                    }
                }
            }
        }
        for (Clash c : clashes.values()) {
            problems.add(c.describe(scheme));
        }
        List<String> shared = new ArrayList<>();
        owners.shared().forEach((path, by) -> shared.add("'" + shown(path, scheme) + "': "
                + String.join(", ", by.stream().map(Freezer.Pinned::describe).toList())));
        return new Result(problems, shared);
    }

    /** The conflicts between one pair of pins, the earlier pin first. */
    private static final class Clash {
        final Freezer.Pinned earlier;
        final Freezer.Pinned later;
        final List<PathOwners.Conflict<Freezer.Pinned>> paths = new ArrayList<>();

        Clash(Freezer.Pinned earlier, Freezer.Pinned later) {
            this.earlier = earlier;
            this.later = later;
        }

        String describe(InstallScheme scheme) {
            StringBuilder b = new StringBuilder(later.requirement().source()).append(": ").append(later.describe())
                    .append(" and ").append(earlier.describe()).append(" both install ");
            for (int i = 0; i < Math.min(PATHS_SHOWN, paths.size()); i++) {
                PathOwners.Conflict<Freezer.Pinned> c = paths.get(i);
                b.append(i == 0 ? "" : ", ").append('\'').append(shown(c.path(), scheme)).append("' (")
                        .append(c.how()).append(')');
            }
            if (paths.size() > PATHS_SHOWN) {
                b.append(" and ").append(paths.size() - PATHS_SHOWN).append(" more path(s)");
            }
            return b.append("; ").append(earlier.describe()).append(" is pinned at ")
                    .append(earlier.requirement().source()).append(". Every file of a release comes from one wheel "
                            + "only: drop one of them, or pin versions that do not overlap").toString();
        }
    }

    private static void note(Map<List<Freezer.Pinned>, Clash> clashes, Map<Freezer.Pinned, Integer> order,
            PathOwners.Conflict<Freezer.Pinned> c) {
        if (c == null) {
            return;
        }
        boolean inOrder = order.get(c.first()) < order.get(c.second());
        Freezer.Pinned earlier = inOrder ? c.first() : c.second();
        Freezer.Pinned later = inOrder ? c.second() : c.first();
        clashes.computeIfAbsent(List.of(earlier, later), k -> new Clash(earlier, later)).paths.add(c);
    }

    /** A path as the operator knows it: relative to site-packages when it lies there, else to the environment. */
    static String shown(String path, InstallScheme scheme) {
        for (String lib : List.of(scheme.purelib(), scheme.platlib())) {
            if (!lib.isEmpty() && path.startsWith(lib + "/")) {
                return path.substring(lib.length() + 1);
            }
        }
        return path;
    }

    /** Whether the wheel's Requires-Python accepts every interpreter the target can be. */
    static void requiresPython(Freezer.Pinned p, MarkerEnvironment env, List<String> problems) {
        String rp = p.file().metadata().requiresPython();
        if (rp.isBlank()) {
            return;
        }
        SpecifierSet spec;
        try {
            spec = SpecifierSet.parse(rp);
        } catch (IllegalArgumentException e) {
            problems.add(p.requirement().source() + ": " + p.describe() + ": Requires-Python '" + rp
                    + "' cannot be read: " + e.getMessage());
            return;
        }
        Set<Boolean> answers = new HashSet<>();
        String python = null;
        for (Map<String, String> v : env.variants()) {
            answers.add(spec.contains(v.get("python_full_version")));
            python = v.get("python_version");
        }
        if (answers.size() > 1) {
            problems.add(p.requirement().source() + ": " + p.describe() + ": Requires-Python '" + rp
                    + "' depends on the patch release of Python " + python + "; give the full target version, e.g. "
                    + "--python " + python + ".N");
        } else if (answers.contains(false)) {
            problems.add(p.requirement().source() + ": " + p.describe() + " requires Python " + rp
                    + ", which excludes the target " + env.description());
        }
    }
}

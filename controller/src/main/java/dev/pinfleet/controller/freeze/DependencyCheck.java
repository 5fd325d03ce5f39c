package dev.pinfleet.controller.freeze;

import dev.pinfleet.wheel.WheelMetadata;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code freeze --check-deps}: pins are installed with no dependency resolution ({@code --no-deps}), so
 * nothing else notices a dependency that was never pinned. For every pinned wheel, every
 * {@code Requires-Dist} whose marker holds for the target (with the extras in effect: those pinned as
 * {@code name[extra]}, plus those other pins' requirements ask for, to a fixed point) must name a pinned
 * project whose pinned version satisfies the specifiers ({@code Requires-Python} is checked for every freeze, by
 * {@link InstallCheck}). Each problem names the pin's {@code file:line}, the requirement as written and, for a
 * conflict, where the other pin is.
 */
public final class DependencyCheck {
    private DependencyCheck() {}

    /**
     * Checks {@code pins}.
     *
     * @return the problems, in pin order; empty when every dependency is satisfied
     */
    public static List<String> check(List<Freezer.Pinned> pins, MarkerEnvironment env) {
        Map<String, Freezer.Pinned> byProject = new LinkedHashMap<>();
        Map<String, Set<String>> extras = new LinkedHashMap<>();
        Map<String, List<Pep508>> requires = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Freezer.Pinned p : pins) {
            String project = dev.pinfleet.manifest.Names.normalizeProject(p.requirement().name());
            byProject.put(project, p);
            extras.put(project, new LinkedHashSet<>(p.requirement().extras()));
            WheelMetadata m = p.file().metadata();
            List<Pep508> reqs = new ArrayList<>();
            for (String rd : m.requiresDist()) {
                try {
                    reqs.add(Pep508.parse(rd));
                } catch (IllegalArgumentException e) {
                    problems.add(where(p) + ": Requires-Dist '" + rd + "' in " + p.file().filename()
                            + " cannot be read: " + e.getMessage());
                }
            }
            requires.put(project, reqs);
        }

        // Extras requested by other pins' requirements switch on more requirements: iterate to a fixed point.
        Deque<String> work = new ArrayDeque<>(byProject.keySet());
        Set<String> markerErrors = new HashSet<>();
        while (!work.isEmpty()) {
            String project = work.poll();
            for (Pep508 d : requires.get(project)) {
                if (!holds(d, env, extras.get(project), byProject.get(project), problems, markerErrors)) {
                    continue;
                }
                Set<String> target = extras.get(d.project());
                if (target != null && target.addAll(d.extras())) {
                    work.add(d.project());
                }
            }
        }

        for (Map.Entry<String, Freezer.Pinned> e : byProject.entrySet()) {
            Freezer.Pinned p = e.getValue();
            for (Pep508 d : requires.get(e.getKey())) {
                if (!holds(d, env, extras.get(e.getKey()), p, problems, markerErrors)) {
                    continue;
                }
                Freezer.Pinned dep = byProject.get(d.project());
                String req = "'" + d.text() + "'";
                if (dep == null) {
                    problems.add(where(p) + ": " + pin(p) + " requires " + req + ", but " + d.name()
                            + " is not pinned (missing dependency)");
                } else if (d.url() == null && !d.specifiers().contains(dep.version())) {
                    problems.add(where(p) + ": " + pin(p) + " requires " + req + ", but " + pin(dep) + " is pinned at "
                            + dep.requirement().source() + " (conflict)");
                }
            }
        }
        return problems;
    }

    private static boolean holds(Pep508 d, MarkerEnvironment env, Set<String> extras, Freezer.Pinned p,
            List<String> problems, Set<String> markerErrors) {
        if (d.marker() == null) {
            return true;
        }
        try {
            return d.marker().evaluate(env, extras);
        } catch (IllegalArgumentException e) {
            String problem = where(p) + ": " + pin(p) + ": Requires-Dist '" + d.text() + "': " + e.getMessage();
            if (markerErrors.add(problem)) {
                problems.add(problem);
            }
            return false;
        }
    }

    private static String where(Freezer.Pinned p) {
        return p.requirement().source();
    }

    private static String pin(Freezer.Pinned p) {
        return p.describe();
    }
}

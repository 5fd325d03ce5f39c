package dev.pinfleet.controller.freeze;

import dev.pinfleet.manifest.Names;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEP 508 dependency specification, as written in a requirements file or a wheel's {@code Requires-Dist}:
 * {@code name [extras] (specifiers | @ url) ; marker}. Specifiers may be parenthesized, as older metadata
 * writes them ({@code six (>=1.10)}).
 *
 * @param name       the distribution name as written
 * @param extras     requested extras, PEP 685 normalized, in written order
 * @param specifiers the version specifiers ({@link SpecifierSet#ANY} when none)
 * @param url        the direct reference after {@code @}, or null
 * @param marker     the environment marker, or null
 * @param text       the specification as written (trimmed)
 */
public record Pep508(String name, Set<String> extras, SpecifierSet specifiers, String url, Marker marker, String text) {

    private static final Pattern NAME = Pattern.compile("\\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\\s*");
    private static final Pattern EXTRA = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?");

    public Pep508 {
        extras = java.util.Collections.unmodifiableSet(new LinkedHashSet<>(extras));
    }

    /** The PEP 503 normalized name. */
    public String project() {
        return Names.normalizeProject(name);
    }

    /**
     * Parses one dependency specification.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static Pep508 parse(String text) {
        String s = text.strip();
        Matcher n = NAME.matcher(s);
        if (!n.lookingAt()) {
            throw new IllegalArgumentException("'" + s + "' does not start with a distribution name");
        }
        String name = n.group(1);
        int i = n.end();
        Set<String> extras = new LinkedHashSet<>();
        if (i < s.length() && s.charAt(i) == '[') {
            int close = s.indexOf(']', i);
            if (close < 0) {
                throw new IllegalArgumentException("'" + s + "': '[' of the extras is not closed");
            }
            String inside = s.substring(i + 1, close).strip();
            if (!inside.isEmpty()) {
                for (String e : inside.split(",", -1)) {
                    String x = e.strip();
                    if (!EXTRA.matcher(x).matches()) {
                        throw new IllegalArgumentException("'" + s + "': '" + x + "' is not a valid extra name");
                    }
                    extras.add(Names.normalizeProject(x));
                }
            }
            i = close + 1;
        }
        String rest = s.substring(i).strip();
        String url = null;
        String markerText = null;
        String specText = "";
        if (rest.startsWith("@")) {
            String after = rest.substring(1).strip();
            int semi = after.indexOf(" ;");
            int tab = after.indexOf("\t;");
            int cut = semi < 0 ? tab : tab < 0 ? semi : Math.min(semi, tab);
            url = (cut < 0 ? after : after.substring(0, cut)).strip();
            if (url.isEmpty() || url.contains(" ")) {
                throw new IllegalArgumentException("'" + s + "': '@' must be followed by a URL (and ' ; marker')");
            }
            if (cut >= 0) {
                markerText = after.substring(cut).strip().substring(1);
            }
        } else {
            int semi = rest.indexOf(';');
            specText = semi < 0 ? rest : rest.substring(0, semi);
            if (semi >= 0) {
                markerText = rest.substring(semi + 1);
            }
            specText = specText.strip();
            if (specText.startsWith("(")) {
                if (!specText.endsWith(")")) {
                    throw new IllegalArgumentException("'" + s + "': '(' of the version specifiers is not closed");
                }
                specText = specText.substring(1, specText.length() - 1);
            }
        }
        SpecifierSet specs;
        try {
            specs = SpecifierSet.parse(specText);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + s + "': " + e.getMessage(), e);
        }
        Marker marker = null;
        if (markerText != null) {
            if (markerText.isBlank()) {
                throw new IllegalArgumentException("'" + s + "': ';' is not followed by a marker");
            }
            marker = Marker.parse(markerText);
        }
        return new Pep508(name, extras, specs, url, marker, s);
    }
}

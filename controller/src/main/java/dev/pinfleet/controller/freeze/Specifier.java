package dev.pinfleet.controller.freeze;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One PEP 440 version specifier ({@code ==1.2}, {@code !=1.3.*}, {@code ~=2.2}, {@code <3}, {@code ===foo}),
 * matched as {@code packaging.specifiers.Specifier.contains(version, prereleases=True)} does (what
 * {@code pip check} and marker evaluation use): exact pins accept pre-releases. {@code <V} excludes
 * pre-releases of V itself (unless V is one), {@code >V} excludes post-releases and local versions of V
 * itself, {@code ==V} without a local label ignores the candidate's local label, wildcards match by segment
 * prefix with the candidate's release zero-padded.
 *
 * @param operator one of {@code == != <= >= < > ~= ===}
 * @param version  the version text after the operator, as written (with {@code .*} for wildcards)
 */
public record Specifier(String operator, String version) {
    private static final Pattern FORM = Pattern.compile("\\s*(===|==|!=|<=|>=|~=|<|>)\\s*([^\\s,;)]+)\\s*");

    /**
     * Parses one specifier.
     *
     * @throws IllegalArgumentException saying why it is not a valid specifier
     */
    public static Specifier parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text.strip() + "' is not a version specifier (operator and version)");
        }
        Specifier s = new Specifier(m.group(1), m.group(2));
        s.check();
        return s;
    }

    private void check() {
        if (operator.equals("===")) {
            return;
        }
        boolean wildcard = version.endsWith(".*");
        String v = wildcard ? version.substring(0, version.length() - 2) : version;
        Pep440Version parsed = Pep440Version.tryParse(v);
        if (parsed == null) {
            throw new IllegalArgumentException("'" + operator + version + "': '" + v + "' is not a PEP 440 version");
        }
        if (wildcard && !(operator.equals("==") || operator.equals("!="))) {
            throw new IllegalArgumentException("'" + operator + version + "': a wildcard is allowed with == and != only");
        }
        if (wildcard && !parsed.local().isEmpty()) {
            throw new IllegalArgumentException("'" + operator + version + "': a wildcard cannot follow a local version");
        }
        if (!parsed.local().isEmpty() && !(operator.equals("==") || operator.equals("!="))) {
            throw new IllegalArgumentException("'" + operator + version + "': a local version is allowed with == and != only");
        }
        if (operator.equals("~=") && parsed.release().size() < 2) {
            throw new IllegalArgumentException("'" + operator + version + "': ~= needs at least two release segments");
        }
    }

    /** True when this is {@code ==V} with no wildcard: an exact pin. */
    public boolean isExactPin() {
        return operator.equals("==") && !version.endsWith(".*");
    }

    /**
     * Whether {@code candidate} (a version as published, e.g. a wheel's Version) satisfies this specifier.
     * A candidate that is not a PEP 440 version satisfies only {@code ===} with the same text.
     */
    public boolean contains(String candidate) {
        if (operator.equals("===")) {
            return candidate.strip().toLowerCase(Locale.ROOT).equals(version.toLowerCase(Locale.ROOT));
        }
        Pep440Version c = Pep440Version.tryParse(candidate);
        return c != null && contains(c);
    }

    /** As {@link #contains(String)} for a parsed version ({@code ===} compares the normalized text). */
    public boolean contains(Pep440Version c) {
        switch (operator) {
            case "===":
                return c.toString().equals(version.toLowerCase(Locale.ROOT));
            case "==":
                return equal(c);
            case "!=":
                return !equal(c);
            case "~=": {
                Pep440Version v = Pep440Version.parse(version);
                List<String> prefix = new ArrayList<>();
                for (int i = 0; i < v.release().size() - 1; i++) {
                    prefix.add(v.release().get(i).toString());
                }
                return c.publicVersion().compareTo(v) >= 0 && prefixMatches(c, v.epoch().toString(), prefix);
            }
            case "<=":
                return c.publicVersion().compareTo(Pep440Version.parse(version)) <= 0;
            case ">=":
                return c.publicVersion().compareTo(Pep440Version.parse(version)) >= 0;
            case "<": {
                Pep440Version v = Pep440Version.parse(version);
                if (c.compareTo(v) >= 0) {
                    return false;
                }
                return v.isPrerelease() || !c.isPrerelease() || !c.baseVersion().equals(v.baseVersion());
            }
            case ">": {
                Pep440Version v = Pep440Version.parse(version);
                if (c.compareTo(v) <= 0) {
                    return false;
                }
                if (!v.isPostrelease() && c.isPostrelease() && c.baseVersion().equals(v.baseVersion())) {
                    return false;
                }
                return c.local().isEmpty() || !c.baseVersion().equals(v.baseVersion());
            }
            default:
                throw new IllegalStateException("unknown operator " + operator);
        }
    }

    private boolean equal(Pep440Version c) {
        if (version.endsWith(".*")) {
            Pep440Version v = Pep440Version.parse(version.substring(0, version.length() - 2));
            List<String> spec = v.prefixSegments(0);
            return prefixMatches(c, spec.get(0), spec.subList(1, spec.size()));
        }
        Pep440Version v = Pep440Version.parse(version);
        return v.local().isEmpty() ? c.publicVersion().equals(v) : c.equals(v);
    }

    /** True when the candidate's epoch is {@code epoch} and its segments (release padded) start with {@code rest}. */
    private static boolean prefixMatches(Pep440Version c, String epoch, List<String> rest) {
        List<String> segs = c.prefixSegments(countReleaseLike(rest));
        if (!segs.get(0).equals(epoch) || segs.size() - 1 < rest.size()) {
            return false;
        }
        return segs.subList(1, 1 + rest.size()).equals(rest);
    }

    private static int countReleaseLike(List<String> segments) {
        int n = 0;
        for (String s : segments) {
            if (!s.chars().allMatch(Character::isDigit)) {
                break;
            }
            n++;
        }
        return n;
    }

    @Override
    public String toString() {
        return operator + version;
    }
}

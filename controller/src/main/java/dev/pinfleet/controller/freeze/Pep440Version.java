package dev.pinfleet.controller.freeze;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEP 440 version, parsed with the spec's normalization rules (case, separators, spelled-out pre-release
 * names, implicit numbers, a leading {@code v}) and ordered as {@code packaging.version.Version} orders it:
 * epoch, release (trailing zeros ignored), then dev-only releases before pre-releases before the release
 * before post-releases, dev releases of each before it, and a local label after the public version
 * (numeric label segments after alphanumeric ones).
 */
public final class Pep440Version implements Comparable<Pep440Version> {
    private static final Pattern FORM = Pattern.compile(
            "v?(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\\.[0-9]+)*)"
                    + "(?:[-_.]?(?<preL>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<preN>[0-9]+)?)?"
                    + "(?:-(?<postN1>[0-9]+)|[-_.]?(?<postL>post|rev|r)[-_.]?(?<postN2>[0-9]+)?)?"
                    + "(?:[-_.]?(?<devL>dev)[-_.]?(?<devN>[0-9]+)?)?"
                    + "(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?",
            Pattern.CASE_INSENSITIVE);

    private final BigInteger epoch;
    private final List<BigInteger> release;
    private final String preLetter;
    private final BigInteger preNumber;
    private final BigInteger post;
    private final BigInteger dev;
    private final List<String> local;

    private Pep440Version(BigInteger epoch, List<BigInteger> release, String preLetter, BigInteger preNumber,
            BigInteger post, BigInteger dev, List<String> local) {
        this.epoch = epoch;
        this.release = List.copyOf(release);
        this.preLetter = preLetter;
        this.preNumber = preNumber;
        this.post = post;
        this.dev = dev;
        this.local = List.copyOf(local);
    }

    /**
     * Parses {@code text} (surrounding white space allowed).
     *
     * @throws IllegalArgumentException when it is not a PEP 440 version
     */
    public static Pep440Version parse(String text) {
        Pep440Version v = tryParse(text);
        if (v == null) {
            throw new IllegalArgumentException("'" + text + "' is not a PEP 440 version");
        }
        return v;
    }

    /** The version, or null when {@code text} is not a PEP 440 version. */
    public static Pep440Version tryParse(String text) {
        if (text == null) {
            return null;
        }
        Matcher m = FORM.matcher(text.strip());
        if (!m.matches()) {
            return null;
        }
        BigInteger epoch = m.group("epoch") == null ? BigInteger.ZERO : new BigInteger(m.group("epoch"));
        List<BigInteger> release = new ArrayList<>();
        for (String part : m.group("release").split("\\.")) {
            release.add(new BigInteger(part));
        }
        String preLetter = null;
        BigInteger preNumber = null;
        if (m.group("preL") != null) {
            preLetter = switch (m.group("preL").toLowerCase(Locale.ROOT)) {
                case "alpha", "a" -> "a";
                case "beta", "b" -> "b";
                default -> "rc";
            };
            preNumber = number(m.group("preN"));
        }
        BigInteger post = null;
        if (m.group("postN1") != null) {
            post = new BigInteger(m.group("postN1"));
        } else if (m.group("postL") != null) {
            post = number(m.group("postN2"));
        }
        BigInteger dev = m.group("devL") == null ? null : number(m.group("devN"));
        List<String> local = new ArrayList<>();
        if (m.group("local") != null) {
            for (String part : m.group("local").toLowerCase(Locale.ROOT).split("[-_.]")) {
                local.add(part.matches("[0-9]+") ? new BigInteger(part).toString() : part);
            }
        }
        return new Pep440Version(epoch, release, preLetter, preNumber, post, dev, local);
    }

    private static BigInteger number(String s) {
        return s == null ? BigInteger.ZERO : new BigInteger(s);
    }

    /** The epoch (0 when not written). */
    public BigInteger epoch() {
        return epoch;
    }

    /** The release segments as written (trailing zeros kept). */
    public List<BigInteger> release() {
        return release;
    }

    /** The local label's segments, lowercased ({@code ["g0123abcd"]} for {@code +g0123abcd}); empty when none. */
    public List<String> local() {
        return local;
    }

    /** True for pre-releases and dev releases. */
    public boolean isPrerelease() {
        return preLetter != null || dev != null;
    }

    /** True for post-releases. */
    public boolean isPostrelease() {
        return post != null;
    }

    /** The version without its local label. */
    public Pep440Version publicVersion() {
        return new Pep440Version(epoch, release, preLetter, preNumber, post, dev, List.of());
    }

    /** Epoch and release only. */
    public Pep440Version baseVersion() {
        return new Pep440Version(epoch, release, null, null, null, null, List.of());
    }

    /**
     * The segments a wildcard ({@code ==1.2.*}) is matched against: the epoch, each release number, then the
     * pre-, post- and dev-release parts as written in the normal form ({@code rc1}, {@code post2}, {@code dev0}).
     * The local label is never part of it.
     */
    List<String> prefixSegments(int padReleaseTo) {
        List<String> out = new ArrayList<>();
        out.add(epoch.toString());
        for (BigInteger r : release) {
            out.add(r.toString());
        }
        for (int i = release.size(); i < padReleaseTo; i++) {
            out.add("0");
        }
        if (preLetter != null) {
            out.add(preLetter + preNumber);
        }
        if (post != null) {
            out.add("post" + post);
        }
        if (dev != null) {
            out.add("dev" + dev);
        }
        return out;
    }

    /** True when this version has a pre-, post- or dev-release part. */
    boolean hasSuffix() {
        return preLetter != null || post != null || dev != null;
    }

    @Override
    public int compareTo(Pep440Version o) {
        int c = epoch.compareTo(o.epoch);
        if (c != 0) {
            return c;
        }
        c = compareRelease(release, o.release);
        if (c != 0) {
            return c;
        }
        c = Integer.compare(preRank(), o.preRank());
        if (c != 0) {
            return c;
        }
        if (preLetter != null) {
            c = preNumber.compareTo(o.preNumber);
            if (c != 0) {
                return c;
            }
        }
        c = compareNullFirst(post, o.post);
        if (c != 0) {
            return c;
        }
        c = compareNullLast(dev, o.dev);
        if (c != 0) {
            return c;
        }
        return compareLocal(local, o.local);
    }

    /** -1: dev-only release; 0..2: a, b, rc; 3: no pre-release. */
    private int preRank() {
        if (preLetter == null) {
            return post == null && dev != null ? -1 : 3;
        }
        return switch (preLetter) {
            case "a" -> 0;
            case "b" -> 1;
            default -> 2;
        };
    }

    private static int compareRelease(List<BigInteger> a, List<BigInteger> b) {
        int n = Math.max(a.size(), b.size());
        for (int i = 0; i < n; i++) {
            BigInteger x = i < a.size() ? a.get(i) : BigInteger.ZERO;
            BigInteger y = i < b.size() ? b.get(i) : BigInteger.ZERO;
            int c = x.compareTo(y);
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static int compareNullFirst(BigInteger a, BigInteger b) {
        if (a == null || b == null) {
            return a == b ? 0 : a == null ? -1 : 1;
        }
        return a.compareTo(b);
    }

    private static int compareNullLast(BigInteger a, BigInteger b) {
        if (a == null || b == null) {
            return a == b ? 0 : a == null ? 1 : -1;
        }
        return a.compareTo(b);
    }

    private static int compareLocal(List<String> a, List<String> b) {
        int n = Math.min(a.size(), b.size());
        for (int i = 0; i < n; i++) {
            String x = a.get(i);
            String y = b.get(i);
            boolean xNum = x.chars().allMatch(Character::isDigit);
            boolean yNum = y.chars().allMatch(Character::isDigit);
            int c;
            if (xNum && yNum) {
                c = new BigInteger(x).compareTo(new BigInteger(y));
            } else if (xNum != yNum) {
                c = xNum ? 1 : -1;
            } else {
                c = x.compareTo(y);
            }
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(a.size(), b.size());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Pep440Version v && compareTo(v) == 0;
    }

    @Override
    public int hashCode() {
        List<BigInteger> trimmed = new ArrayList<>(release);
        while (trimmed.size() > 1 && trimmed.get(trimmed.size() - 1).signum() == 0) {
            trimmed.remove(trimmed.size() - 1);
        }
        return java.util.Objects.hash(epoch, trimmed, preLetter, preNumber, post, dev, local);
    }

    /** The normalized form, e.g. {@code 1!2.0rc1.post3.dev4+ubuntu.1}. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        if (epoch.signum() != 0) {
            b.append(epoch).append('!');
        }
        for (int i = 0; i < release.size(); i++) {
            b.append(i == 0 ? "" : ".").append(release.get(i));
        }
        if (preLetter != null) {
            b.append(preLetter).append(preNumber);
        }
        if (post != null) {
            b.append(".post").append(post);
        }
        if (dev != null) {
            b.append(".dev").append(dev);
        }
        if (!local.isEmpty()) {
            b.append('+').append(String.join(".", local));
        }
        return b.toString();
    }
}

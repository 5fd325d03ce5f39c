package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.fs.LineFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * An Ansible host pattern as {@code --limit} takes it: terms separated by {@code ,} or {@code :}; a term is a host
 * name, a group name ({@code all} for every host), a glob over host and group names ({@code web*}, {@code db?}),
 * {@code ~REGEX}, or {@code @FILE} (host names, one per line, as in a retry file). {@code !TERM} excludes,
 * {@code &TERM} intersects. As in Ansible: the union of the plain terms (all hosts when there are none), then
 * every intersection, then every exclusion; the result keeps inventory order. A term that names no host or group
 * is an error, not an empty deploy.
 */
public final class Limit {
    private record Term(char op, String text) {}

    private final String pattern;
    private final List<Term> terms;

    private Limit(String pattern, List<Term> terms) {
        this.pattern = pattern;
        this.terms = terms;
    }

    public static Limit parse(String pattern) {
        List<Term> terms = new ArrayList<>();
        if (pattern != null) {
            for (String raw : pattern.split("[,:]")) {
                String t = raw.strip();
                if (t.isEmpty()) {
                    continue;
                }
                char op = t.charAt(0) == '!' || t.charAt(0) == '&' ? t.charAt(0) : '+';
                String text = op == '+' ? t : t.substring(1).strip();
                if (text.isEmpty()) {
                    throw new CliException("--limit '" + pattern + "': '" + t + "' has no host or group after '" + op + "'");
                }
                terms.add(new Term(op, text));
            }
        }
        return new Limit(pattern == null ? "" : pattern, terms);
    }

    /** Host names selected, in inventory order. */
    public List<String> apply(Inventory inv) {
        Set<String> union = new LinkedHashSet<>();
        boolean anyPlain = false;
        for (Term t : terms) {
            if (t.op() == '+') {
                anyPlain = true;
                union.addAll(match(inv, t.text()));
            }
        }
        if (!anyPlain) {
            union.addAll(inv.hosts());
        }
        for (Term t : terms) {
            if (t.op() == '&') {
                union.retainAll(match(inv, t.text()));
            }
        }
        for (Term t : terms) {
            if (t.op() == '!') {
                union.removeAll(match(inv, t.text()));
            }
        }
        List<String> out = new ArrayList<>();
        for (String h : inv.hosts()) {
            if (union.contains(h)) {
                out.add(h);
            }
        }
        if (out.isEmpty()) {
            throw new CliException("inventory " + inv.source() + ": "
                    + (pattern.isBlank() ? "has no hosts" : "--limit '" + pattern + "' selects no host"));
        }
        return out;
    }

    private Set<String> match(Inventory inv, String text) {
        Set<String> out = new LinkedHashSet<>();
        if (text.startsWith("@")) {
            Path f = Path.of(text.substring(1));
            List<LineFile.Line> lines;
            try {
                lines = LineFile.read(f);
            } catch (IOException e) {
                throw new CliException("--limit " + text + ": cannot read " + f + ": " + e.getMessage());
            }
            for (LineFile.Line line : lines) {
                String h = line.text();
                if (!inv.hosts().contains(h)) {
                    throw new CliException(line.where() + ": host '" + h + "' is not in inventory " + inv.source());
                }
                out.add(h);
            }
            return out;
        }
        if (text.equals("all") || text.equals("*")) {
            out.addAll(inv.hosts());
            return out;
        }
        if (inv.hosts().contains(text)) {
            out.add(text);
        }
        if (inv.groups().contains(text)) {
            out.addAll(inv.hostsOf(text));
        }
        if (!out.isEmpty() || inv.groups().contains(text)) {
            return out;
        }
        Pattern p = null;
        if (text.startsWith("~")) {
            try {
                p = Pattern.compile(text.substring(1));
            } catch (PatternSyntaxException e) {
                throw new CliException("--limit '" + pattern + "': '" + text + "' is not a regular expression: "
                        + e.getDescription());
            }
        } else if (text.matches(".*[*?\\[].*")) {
            p = glob(text);
        }
        if (p == null) {
            throw new CliException("--limit '" + pattern + "': '" + text + "' is neither a host nor a group of inventory "
                    + inv.source());
        }
        boolean regex = text.startsWith("~");
        for (String h : inv.hosts()) {
            if (regex ? p.matcher(h).find() : p.matcher(h).matches()) {
                out.add(h);
            }
        }
        for (String g : inv.groups()) {
            if (regex ? p.matcher(g).find() : p.matcher(g).matches()) {
                out.addAll(inv.hostsOf(g));
            }
        }
        if (out.isEmpty()) {
            throw new CliException("--limit '" + pattern + "': '" + text + "' matches no host or group of inventory "
                    + inv.source());
        }
        return out;
    }

    private static Pattern glob(String g) {
        StringBuilder re = new StringBuilder();
        for (char c : g.toCharArray()) {
            switch (c) {
                case '*' -> re.append(".*");
                case '?' -> re.append('.');
                case '[', ']' -> re.append(c);
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return Pattern.compile(re.toString());
    }
}

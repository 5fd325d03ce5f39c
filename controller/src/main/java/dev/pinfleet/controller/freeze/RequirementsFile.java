package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a pinned requirements file as pip and pip-compile write it:
 * <ul>
 *   <li>'#' comments (at a line start or after white space), blank lines, backslash continuations;</li>
 *   <li>{@code name==version}, {@code name[extra,…]==version} (the base is pinned, the extras recorded),
 *       with {@code --hash=sha256:HEX} options (several allowed);</li>
 *   <li>PEP 508 environment markers ({@code ; python_version < "3.12"}), evaluated for the target: a pin whose
 *       marker is false is skipped;</li>
 *   <li>{@code -r FILE} / {@code --requirement FILE} includes, relative to the including file; a file included
 *       again (by another path through the includes) is read once; an include cycle is an error;</li>
 *   <li>git pins, {@code git+https://…@<40-hex commit>#egg=name} or {@code name @ git+https://…@<commit>}
 *       (see {@link VcsPin});</li>
 *   <li>index options ({@code -i}, {@code --index-url}, {@code --extra-index-url}, {@code --trusted-host},
 *       {@code -f}, {@code --find-links}, {@code --no-index}, {@code --pre}, {@code --prefer-binary},
 *       {@code --only-binary}, {@code --require-hashes}) are accepted and ignored: pins resolve against the
 *       mirror only.</li>
 * </ul>
 * Anything else (a range, a bare name, {@code -e}, {@code -c}, a direct URL) is an error naming
 * {@code file:line}, because pinfleet installs exact pins with no dependency resolution.
 */
public final class RequirementsFile {
    private RequirementsFile() {}

    /**
     * What a requirements file (with its includes) pins for the target.
     *
     * @param pins    the pins whose marker held, in reading order (includes in place)
     * @param skipped "file:line: text" of each pin left out because its marker is false for the target
     */
    public record Result(List<Requirement> pins, List<String> skipped) {
        public Result {
            pins = List.copyOf(pins);
            skipped = List.copyOf(skipped);
        }
    }

    private static final Pattern PIN_VERSION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.+!_-]*");
    private static final Pattern HASH = Pattern.compile("([A-Za-z0-9]+):([0-9a-fA-F]+)");
    private static final Set<String> IGNORED_FLAGS = Set.of("--no-index", "--pre", "--prefer-binary",
            "--require-hashes");
    private static final Set<String> IGNORED_WITH_VALUE = Set.of("-i", "--index-url", "--extra-index-url",
            "--trusted-host", "-f", "--find-links", "--only-binary");

    /** Reads {@code file} and its includes, evaluating markers for {@code env}. */
    public static Result read(Path file, MarkerEnvironment env) {
        Reader r = new Reader(env);
        r.read(file, new ArrayDeque<>(), null);
        if (r.problems.size() == 1) {
            throw new CliException(r.problems.get(0));
        }
        if (!r.problems.isEmpty()) { // every line's problem at once, not one per run
            throw new CliException(r.problems.size() + " problems in " + file + ":\n  " + String.join("\n  ", r.problems));
        }
        return new Result(r.pins, r.skipped);
    }

    private static final class Reader {
        final MarkerEnvironment env;
        final List<Requirement> pins = new ArrayList<>();
        final List<String> skipped = new ArrayList<>();
        final Set<Path> done = new HashSet<>();
        final List<String> problems = new ArrayList<>();

        Reader(MarkerEnvironment env) {
            this.env = env;
        }

        void read(Path file, Deque<Path> stack, String includedAt) {
            Path real;
            List<String> lines;
            try {
                real = file.toRealPath();
                lines = Files.readAllLines(real, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                throw new CliException((includedAt == null ? "" : includedAt + ": ") + file + ": no such file");
            } catch (IOException e) {
                throw new CliException((includedAt == null ? "" : includedAt + ": ") + file + ": cannot read: "
                        + e.getMessage());
            }
            if (stack.contains(real)) {
                StringBuilder cycle = new StringBuilder();
                boolean inCycle = false;
                for (Path p : (Iterable<Path>) stack::descendingIterator) {
                    inCycle |= p.equals(real);
                    if (inCycle) {
                        cycle.append(p.getFileName()).append(" -> ");
                    }
                }
                throw new CliException(includedAt + ": include cycle " + cycle + real.getFileName()
                        + "; a requirements file cannot include itself");
            }
            if (!done.add(real)) {
                return;
            }
            stack.push(real);
            StringBuilder logical = new StringBuilder();
            int startLine = 0;
            for (int i = 0; i < lines.size(); i++) {
                if (logical.length() == 0) {
                    startLine = i + 1;
                }
                String stripped = stripComment(lines.get(i));
                if (stripped.endsWith("\\")) {
                    logical.append(stripped, 0, stripped.length() - 1).append(' ');
                    continue;
                }
                logical.append(stripped);
                line(file, startLine, logical.toString().strip(), stack);
                logical.setLength(0);
            }
            if (!logical.toString().isBlank()) {
                line(file, startLine, logical.toString().strip(), stack);
            }
            stack.pop();
        }

        private void line(Path file, int lineNo, String text, Deque<Path> stack) {
            if (text.isEmpty()) {
                return;
            }
            String where = file + ":" + lineNo;
            try {
                if (text.startsWith("-")) {
                    option(file, where, text, stack);
                    return;
                }
                Requirement r = requirement(text, where);
                if (r != null) {
                    pins.add(r);
                }
            } catch (CliException e) {
                problems.add(e.getMessage());
            }
        }

        private void option(Path file, String where, String text, Deque<Path> stack) {
            String[] tokens = text.split("\\s+", 2);
            String flag = tokens[0];
            String value = tokens.length > 1 ? tokens[1].strip() : null;
            int eq = flag.indexOf('=');
            if (flag.startsWith("--") && eq > 0) {
                value = flag.substring(eq + 1) + (value == null ? "" : " " + value);
                flag = flag.substring(0, eq);
            } else if (!flag.startsWith("--") && flag.length() > 2) {
                value = flag.substring(2) + (value == null ? "" : " " + value);
                flag = flag.substring(0, 2);
            }
            switch (flag) {
                case "-r", "--requirement" -> {
                    if (value == null || value.isBlank()) {
                        throw new CliException(where + ": " + flag + " needs a file name");
                    }
                    if (value.contains("://")) {
                        throw new CliException(where + ": " + flag + " " + value
                                + ": including a URL is not supported; include a file next to this one");
                    }
                    Path parent = file.toAbsolutePath().getParent();
                    read(parent.resolve(value.strip()), stack, where + ": " + flag + " " + value.strip());
                }
                case "-c", "--constraint" -> throw new CliException(where + ": " + flag
                        + " is not supported: constraints need dependency resolution; write the exact pins instead");
                case "-e", "--editable" -> throw new CliException(where + ": " + flag
                        + " is not supported: an editable install cannot be deployed; build a wheel, publish it to the "
                        + "mirror and pin its version");
                default -> {
                    if (IGNORED_FLAGS.contains(flag) && value == null) {
                        return;
                    }
                    if (IGNORED_WITH_VALUE.contains(flag) && value != null) {
                        return;
                    }
                    throw new CliException(where + ": option '" + flag
                            + "' is not supported here; list every pin as name==version");
                }
            }
        }

        /** The pin on a requirement line, or null when its marker is false for the target. */
        private Requirement requirement(String text, String where) {
            List<String> tokens = List.of(text.split("\\s+"));
            int firstOption = 0;
            while (firstOption < tokens.size() && !tokens.get(firstOption).startsWith("-")) {
                firstOption++;
            }
            String spec = String.join(" ", tokens.subList(0, firstOption));
            List<String> hashes = hashes(tokens.subList(firstOption, tokens.size()), where);
            if (looksLikeUrl(spec)) {
                return urlRequirement(spec, hashes, where);
            }
            Pep508 p;
            try {
                p = Pep508.parse(spec);
            } catch (IllegalArgumentException e) {
                throw new CliException(where + ": " + e.getMessage());
            }
            if (!evaluate(p.marker(), where, spec)) {
                return null;
            }
            if (p.url() != null) {
                return vcs(p.name(), p.url(), p.extras(), hashes, where);
            }
            List<Specifier> specs = p.specifiers().specifiers();
            String base = p.name() + (p.extras().isEmpty() ? "" : "[" + String.join(",", p.extras()) + "]");
            String shown = base + p.specifiers();
            if (specs.size() != 1 || !specs.get(0).operator().equals("==")) {
                String why = specs.stream().anyMatch(s -> s.operator().equals("===")) ? "'===' arbitrary equality is not supported"
                        : specs.isEmpty() ? "not pinned with '==': pinfleet installs exact versions only"
                        : "not pinned with '==' (a range needs dependency resolution)";
                throw new CliException(where + ": '" + shown + "': " + why);
            }
            String version = specs.get(0).version();
            if (version.contains("*")) {
                throw new CliException(where + ": '" + shown + "': wildcard versions are not exact pins");
            }
            if (!PIN_VERSION.matcher(version).matches()) {
                throw new CliException(where + ": '" + shown + "': not a valid name==version pin");
            }
            return new Requirement(p.name(), version, p.extras(), hashes, where, null);
        }

        /** {@code git+https://…@commit#egg=name[extra]} with an optional {@code " ; marker"}. */
        private Requirement urlRequirement(String spec, List<String> hashes, String where) {
            String url = spec;
            int semi = spec.indexOf(" ;");
            if (semi >= 0) {
                url = spec.substring(0, semi).strip();
                Marker m;
                try {
                    m = Marker.parse(spec.substring(semi + 2));
                } catch (IllegalArgumentException e) {
                    throw new CliException(where + ": " + e.getMessage());
                }
                if (!evaluate(m, where, spec)) {
                    return null;
                }
            }
            int hash = url.indexOf('#');
            String egg = null;
            if (hash >= 0) {
                for (String part : url.substring(hash + 1).split("&")) {
                    if (part.startsWith("egg=")) {
                        egg = part.substring(4);
                    }
                }
                url = url.substring(0, hash);
            }
            if (!url.toLowerCase(Locale.ROOT).matches("(git|hg|svn|bzr)\\+.*")) {
                throw new CliException(where + ": '" + spec + "': direct URLs are not supported; publish the wheel to "
                        + "the mirror and pin its version");
            }
            if (egg == null || egg.isBlank()) {
                throw new CliException(where + ": '" + spec + "': name the distribution with #egg=NAME "
                        + "(or write NAME @ URL)");
            }
            Pep508 name;
            try {
                name = Pep508.parse(egg);
            } catch (IllegalArgumentException e) {
                throw new CliException(where + ": #egg=" + egg + ": " + e.getMessage());
            }
            if (!name.specifiers().isEmpty() || name.marker() != null) {
                throw new CliException(where + ": #egg=" + egg + " must be a distribution name (with optional [extras])");
            }
            return vcs(name.name(), url, name.extras(), hashes, where);
        }

        private Requirement vcs(String name, String url, Set<String> extras, List<String> hashes, String where) {
            int hash = url.indexOf('#');
            String bare = hash >= 0 ? url.substring(0, hash) : url;
            VcsPin pin;
            try {
                pin = VcsPin.parse(bare);
            } catch (IllegalArgumentException e) {
                throw new CliException(where + ": " + name + ": " + e.getMessage());
            }
            return new Requirement(name, null, extras, hashes, where, pin);
        }

        private boolean evaluate(Marker m, String where, String spec) {
            if (m == null) {
                return true;
            }
            boolean holds;
            try {
                holds = m.evaluate(env, Set.of());
            } catch (IllegalArgumentException e) {
                throw new CliException(where + ": " + e.getMessage());
            }
            if (!holds) {
                skipped.add(where + ": " + spec);
            }
            return holds;
        }

        private static List<String> hashes(List<String> options, String where) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < options.size(); i++) {
                String o = options.get(i);
                String value;
                if (o.startsWith("--hash=")) {
                    value = o.substring(7);
                } else if (o.equals("--hash") && i + 1 < options.size()) {
                    value = options.get(++i);
                } else {
                    throw new CliException(where + ": option '" + o + "' is not supported on a requirement line "
                            + "(only --hash=sha256:HEX)");
                }
                Matcher m = HASH.matcher(value);
                if (!m.matches()) {
                    throw new CliException(where + ": --hash " + value + " is not ALGORITHM:HEX");
                }
                if (!m.group(1).equals("sha256")) {
                    throw new CliException(where + ": --hash " + m.group(1) + ":… is not supported; use sha256");
                }
                if (m.group(2).length() != 64) {
                    throw new CliException(where + ": --hash sha256:" + m.group(2) + " is not 64 hex characters");
                }
                out.add(m.group(2).toLowerCase(Locale.ROOT));
            }
            return out;
        }

        private static boolean looksLikeUrl(String spec) {
            String first = spec.split("\\s+")[0];
            return first.contains("://") && !first.contains("@") || first.matches("(?i)(git|hg|svn|bzr)\\+.*");
        }
    }

    private static String stripComment(String line) {
        // A '#' starts a comment at the line start or after white space (pip's rule; '#' in a URL fragment stays).
        for (int i = 0; i < line.length(); i++) {
            if (line.charAt(i) == '#' && (i == 0 || Character.isWhitespace(line.charAt(i - 1)))) {
                return line.substring(0, i).stripTrailing();
            }
        }
        return line.stripTrailing();
    }
}

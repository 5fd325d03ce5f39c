package dev.pinfleet.controller.freeze;

import dev.pinfleet.controller.CliException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a pinned requirements file: one {@code name==version} per line, '#' comments, blank lines,
 * backslash continuations and {@code --hash=sha256:HEX} options, as pip and pip-compile write them.
 * Anything that is not an exact pin is an error naming file:line, because pinfleet installs with no
 * dependency resolution.
 */
public final class RequirementsFile {
    private RequirementsFile() {}

    private static final Pattern PIN = Pattern.compile(
            "([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\\s*(?:\\[[A-Za-z0-9._,\\s-]*\\])?\\s*==\\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)");
    private static final Pattern HASH = Pattern.compile("--hash[=\\s]\\s*([a-z0-9]+):([0-9a-fA-F]+)");

    public static List<Requirement> read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CliException(file + ": cannot read: " + e.getMessage());
        }
        List<Requirement> out = new ArrayList<>();
        StringBuilder logical = new StringBuilder();
        int startLine = 0;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (logical.length() == 0) {
                startLine = i + 1;
            }
            String stripped = stripComment(line);
            if (stripped.endsWith("\\")) {
                logical.append(stripped, 0, stripped.length() - 1).append(' ');
                continue;
            }
            logical.append(stripped);
            String text = logical.toString().trim();
            logical.setLength(0);
            if (!text.isEmpty()) {
                out.add(parseLine(text, file + ":" + startLine));
            }
        }
        if (logical.length() > 0 && !logical.toString().isBlank()) {
            out.add(parseLine(logical.toString().trim(), file + ":" + startLine));
        }
        return out;
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

    static Requirement parseLine(String text, String where) {
        List<String> hashes = new ArrayList<>();
        Matcher h = HASH.matcher(text);
        StringBuilder rest = new StringBuilder();
        int last = 0;
        while (h.find()) {
            if (!h.group(1).equals("sha256")) {
                throw new CliException(where + ": --hash " + h.group(1) + ":… is not supported; use sha256");
            }
            if (h.group(2).length() != 64) {
                throw new CliException(where + ": --hash sha256:" + h.group(2) + " is not 64 hex characters");
            }
            hashes.add(h.group(2).toLowerCase(Locale.ROOT));
            rest.append(text, last, h.start());
            last = h.end();
        }
        rest.append(text.substring(last));
        String spec = rest.toString().trim();
        if (spec.startsWith("-")) {
            throw new CliException(where + ": option '" + spec.split("\\s+")[0]
                    + "' is not supported here; list every pin as name==version");
        }
        if (spec.contains(";")) {
            throw new CliException(where + ": '" + spec + "': environment markers are not supported by this freeze; "
                    + "write the pins for the target environment");
        }
        Matcher m = PIN.matcher(spec);
        if (!m.matches()) {
            String why = spec.contains("===") ? "'===' arbitrary equality is not supported"
                    : spec.matches(".*(>=|<=|~=|!=|>|<).*") ? "not pinned with '==' (a range needs dependency resolution)"
                    : spec.contains("==") ? "not a valid name==version pin"
                    : "not pinned with '==': pinfleet installs exact versions only";
            throw new CliException(where + ": '" + spec + "': " + why);
        }
        if (m.group(2).contains("*")) {
            throw new CliException(where + ": '" + spec + "': wildcard versions are not exact pins");
        }
        return new Requirement(m.group(1), m.group(2), List.copyOf(hashes), where);
    }
}

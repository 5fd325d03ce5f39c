package dev.pinfleet.controller.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The settings {@code pinfleet.yml} and {@code PINFLEET_*} variables may give, read from picocli's own model of the
 * command tree: every option of every command, keyed by its longest name without the dashes ({@code --max-failures}
 * is key {@code max-failures} and variable {@code PINFLEET_MAX_FAILURES}), so a renamed option is renamed here too.
 * Left out: help and version options, the root's own options (which file to read), {@code pinfleet config} and
 * {@code pinfleet controller}, whose service reads its own properties file ({@code controller serve --config}).
 */
public final class OptionCatalog {
    private final Map<String, List<OptionSpec>> byKey;

    private OptionCatalog(Map<String, List<OptionSpec>> byKey) {
        this.byKey = byKey;
    }

    /** The catalog of {@code root}'s subcommands, at every depth. */
    public static OptionCatalog of(CommandLine root) {
        Map<String, List<OptionSpec>> keys = new TreeMap<>();
        for (CommandLine sub : root.getSubcommands().values()) {
            collect(sub, keys);
        }
        keys.replaceAll((k, v) -> List.copyOf(v));
        return new OptionCatalog(Collections.unmodifiableMap(keys));
    }

    private static void collect(CommandLine cmd, Map<String, List<OptionSpec>> keys) {
        CommandSpec spec = cmd.getCommandSpec();
        if (spec.helpCommand() || spec.name().equals("controller") || spec.name().equals(ConfigCommand.NAME)) {
            return;
        }
        for (OptionSpec o : spec.options()) {
            if (!o.usageHelp() && !o.versionHelp()) {
                keys.computeIfAbsent(key(o), k -> new ArrayList<>()).add(o);
            }
        }
        for (CommandLine sub : cmd.getSubcommands().values()) {
            collect(sub, keys);
        }
    }

    /** The setting's key of {@code o}: its longest name without leading dashes. */
    public static String key(OptionSpec o) {
        return o.longestName().replaceFirst("^-+", "");
    }

    /** The environment variable of {@code key}: {@code PINFLEET_} and the key in capitals, '-' as '_'. */
    public static String variable(String key) {
        return "PINFLEET_" + key.toUpperCase(java.util.Locale.ROOT).replace('-', '_');
    }

    /** Whether {@code o} takes its default from the settings. */
    public boolean serves(OptionSpec o) {
        List<OptionSpec> all = byKey.get(key(o));
        return all != null && all.stream().anyMatch(x -> x == o);
    }

    /** Every key, sorted. */
    public List<String> keys() {
        return List.copyOf(byKey.keySet());
    }

    /** The options of {@code key}, one per command that has it. */
    public List<OptionSpec> options(String key) {
        return byKey.getOrDefault(key, List.of());
    }

    public boolean knows(String key) {
        return byKey.containsKey(key);
    }

    /** The commands ("deploy", "mirror publish", …) that have an option of {@code key}. */
    public List<String> commands(String key) {
        return byKey.getOrDefault(key, List.of()).stream()
                .map(o -> o.command().qualifiedName(" ").replaceFirst("^\\S+ ", "")).distinct().toList();
    }

    /**
     * Why {@code text} cannot be {@code key}'s value (a number where every option of that key takes one, true/false
     * for a switch), or null when some option of the key takes it ({@link #fits} tells for each).
     */
    public String check(String key, String text) {
        List<OptionSpec> all = byKey.getOrDefault(key, List.of());
        if (all.isEmpty() || all.stream().anyMatch(o -> fits(o, text))) {
            return null;
        }
        return "expected " + expected(all.get(0)) + " (" + all.get(0).longestName() + " of " + commands(key) + "), not '"
                + text + "'";
    }

    /** Whether {@code o} takes {@code text}: a whole number for a number, true or false for a switch. */
    public static boolean fits(OptionSpec o, String text) {
        Class<?> t = o.type();
        if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
            return text.matches("-?[0-9]{1,18}");
        }
        if (t == boolean.class || t == Boolean.class) {
            return text.equals("true") || text.equals("false");
        }
        return true;
    }

    /** What {@code o} takes, for a message. */
    public static String expected(OptionSpec o) {
        Class<?> t = o.type();
        return t == boolean.class || t == Boolean.class ? "true or false"
                : fits(o, "x") ? "a value" : "a whole number";
    }

    /**
     * Whether {@code o}'s value is a file or directory (its type, or its elements' type, is a path, or its label names
     * DIR or FILE), so that a
     * relative one in {@code pinfleet.yml} is taken relative to that file.
     */
    public static boolean isPath(OptionSpec o) {
        Class<?> type = o.isMultiValue() && o.auxiliaryTypes().length > 0 ? o.auxiliaryTypes()[0] : o.type();
        if (type == Path.class || type == java.io.File.class) {
            return true;
        }
        String label = o.paramLabel();
        return type == String.class && label != null && (label.contains("DIR") || label.contains("FILE"));
    }
}

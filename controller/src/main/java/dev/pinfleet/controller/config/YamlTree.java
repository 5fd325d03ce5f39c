package dev.pinfleet.controller.config;

import dev.pinfleet.controller.CliException;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * A YAML file read as SnakeYAML's node tree, keeping every node's mark, so that each error names {@code file:line}:
 * the project's YAML files (the inventory's YAML form, {@code pinfleet.yml}) read through it. Duplicate keys and
 * alias bombs are refused; scalars keep their text as written ({@code 3.10} stays "3.10").
 */
public final class YamlTree {
    private final Path file;

    private YamlTree(Path file) {
        this.file = file;
    }

    /** The reader of {@code file}'s nodes. */
    public static YamlTree of(Path file) {
        return new YamlTree(file);
    }

    /** The root node of {@code text}, or null for an empty document; a syntax error names {@code file:line}. */
    public Node compose(String text) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(50);
        try {
            return new Yaml(options).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            throw new CliException(file + ":" + (m == null ? 1 : m.getLine() + 1) + ": YAML syntax error: "
                    + (e.getProblem() == null ? e.getMessage() : e.getProblem()));
        } catch (YAMLException e) {
            throw new CliException(file + ": YAML error: " + e.getMessage());
        }
    }

    /** {@code n} as a mapping without duplicate keys, or an error naming {@code what} and the line. */
    public MappingNode mapping(Node n, String what) {
        if (n instanceof MappingNode m) {
            Set<String> keys = new HashSet<>();
            for (NodeTuple t : m.getValue()) {
                if (t.getKeyNode() instanceof ScalarNode k && !keys.add(k.getValue())) {
                    throw error(k, what + ": duplicate key '" + k.getValue() + "'");
                }
            }
            return m;
        }
        throw error(n, what + " must be a mapping (key: value), not " + kind(n));
    }

    /** {@code n} as a non-empty scalar's text, or an error naming {@code what} and the line. */
    public String scalar(Node n, String what) {
        if (n instanceof ScalarNode s && !s.getValue().isEmpty()) {
            return s.getValue();
        }
        throw error(n, what + " must be a plain value, not " + kind(n));
    }

    /** Whether {@code n} is YAML null ({@code ~}, {@code null} or nothing). */
    public static boolean isNull(Node n) {
        return n instanceof ScalarNode s && (s.getTag().getValue().endsWith(":null") || s.getValue().isEmpty());
    }

    /** What {@code n} is, for a message: "a list", "a mapping" or the scalar in quotes. */
    public static String kind(Node n) {
        return n instanceof SequenceNode ? "a list" : n instanceof MappingNode ? "a mapping"
                : "'" + ((ScalarNode) n).getValue() + "'";
    }

    /** The 1-based line {@code n} starts on. */
    public static int line(Node n) {
        return n.getStartMark().getLine() + 1;
    }

    /** An error at {@code n}: "file:line: why". */
    public CliException error(Node n, String why) {
        return new CliException(file + ":" + line(n) + ": " + why);
    }
}

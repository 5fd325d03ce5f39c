package dev.pinfleet.controller.config;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * {@code pinfleet.yml}: settings (any option's key, see {@link OptionCatalog}) at the top level, and under
 * {@code apps:} per application its spec ({@link AppSpec}) and settings that apply when that app is the one a
 * command works on. Relative paths are relative to the file. An unknown key or a value of the wrong type is an error
 * naming {@code file:line}.
 *
 * @param path     the file
 * @param settings top-level settings by key
 * @param apps     applications by name, in file order
 */
public record ConfigFile(Path path, Map<String, Value> settings, Map<String, AppSpec> apps) {
    /** The file name looked for from the working directory upwards. */
    public static final String NAME = "pinfleet.yml";

    /** The top-level key holding the applications. */
    static final String APPS = "apps";

    /**
     * One setting as written.
     *
     * @param text  the scalar's text
     * @param line  1-based line in the file
     * @param where its key path, e.g. {@code apps.shop.canary}
     */
    public record Value(String text, int line, String where) {}

    /** The directory relative paths are resolved against. */
    public Path dir() {
        return path.toAbsolutePath().getParent();
    }

    /** Reads and checks {@code path} against the settings {@code catalog} knows. */
    public static ConfigFile read(Path path, OptionCatalog catalog) {
        String text;
        try {
            text = Files.readString(path, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CliException(path + ": no such file");
        } catch (IOException e) {
            throw new CliException(path + ": cannot read: " + e.getMessage());
        }
        return parse(path, text, catalog);
    }

    static ConfigFile parse(Path path, String text, OptionCatalog catalog) {
        YamlTree y = YamlTree.of(path);
        Node root = y.compose(text);
        Map<String, Value> settings = new LinkedHashMap<>();
        Map<String, AppSpec> apps = new LinkedHashMap<>();
        if (root == null || YamlTree.isNull(root)) {
            return new ConfigFile(path, Map.of(), Map.of());
        }
        Path dir = path.toAbsolutePath().getParent();
        for (NodeTuple t : y.mapping(root, "the top level").getValue()) {
            String key = y.scalar(t.getKeyNode(), "a key");
            if (key.equals(APPS)) {
                for (NodeTuple a : y.mapping(t.getValueNode(), APPS).getValue()) {
                    String name = y.scalar(a.getKeyNode(), "an app name");
                    String bad = Names.checkApp(name);
                    if (bad != null) {
                        throw y.error(a.getKeyNode(), "app '" + name + "': " + bad);
                    }
                    apps.put(name, app(y, dir, name, a.getValueNode(), catalog));
                }
            } else {
                settings.put(key, setting(y, catalog, t, key, key));
            }
        }
        return new ConfigFile(path, Collections.unmodifiableMap(settings), Collections.unmodifiableMap(apps));
    }

    private static Value setting(YamlTree y, OptionCatalog catalog, NodeTuple t, String key, String where) {
        if (!catalog.knows(key)) {
            throw y.error(t.getKeyNode(), "unknown key '" + where + "'" + hint(key));
        }
        Node v = t.getValueNode();
        if (!(v instanceof ScalarNode s) || YamlTree.isNull(v)) {
            throw y.error(v, where + ": expected a single value, not " + (YamlTree.isNull(v) ? "nothing" : YamlTree.kind(v)));
        }
        String why = catalog.check(key, s.getValue());
        if (why != null) {
            throw y.error(v, where + ": " + why);
        }
        return new Value(s.getValue(), YamlTree.line(v), where);
    }

    private static String hint(String key) {
        return switch (key) {
            case "requirements", "archives", "post-switch-hook", "health-check" -> " here: it belongs to an app, under "
                    + APPS + ": NAME:";
            default -> "; see 'pinfleet config --keys' for the keys";
        };
    }

    private static AppSpec app(YamlTree y, Path dir, String name, Node body, OptionCatalog catalog) {
        Map<String, Value> settings = new LinkedHashMap<>();
        Path requirements = null;
        List<AppSpec.Archive> archives = new ArrayList<>();
        HookCommand hook = null;
        HealthCheck health = null;
        String at = APPS + "." + name;
        if (!YamlTree.isNull(body)) {
            for (NodeTuple t : y.mapping(body, at).getValue()) {
                String key = y.scalar(t.getKeyNode(), "a key of " + at);
                Node v = t.getValueNode();
                switch (key) {
                    case "requirements" -> requirements = dir.resolve(y.scalar(v, at + ".requirements"));
                    case "archives" -> {
                        if (!(v instanceof SequenceNode seq)) {
                            throw y.error(v, at + ".archives: expected a list of {path, install-path}, not " + YamlTree.kind(v));
                        }
                        for (Node item : seq.getValue()) {
                            archives.add(archive(y, dir, at + ".archives", item));
                        }
                    }
                    case "post-switch-hook" -> hook = hook(y, y.mapping(v, at + ".post-switch-hook"), at + ".post-switch-hook");
                    case "health-check" -> health = health(y, y.mapping(v, at + ".health-check"), at + ".health-check");
                    default -> settings.put(key, setting(y, catalog, t, key, at + "." + key));
                }
            }
        }
        return new AppSpec(name, settings, requirements, List.copyOf(archives), hook, health);
    }

    private static AppSpec.Archive archive(YamlTree y, Path dir, String at, Node item) {
        Path path = null;
        String installPath = null;
        String label = null;
        for (NodeTuple t : y.mapping(item, at + " entry").getValue()) {
            String key = y.scalar(t.getKeyNode(), "a key of " + at);
            switch (key) {
                case "path" -> path = dir.resolve(y.scalar(t.getValueNode(), at + ".path"));
                case "install-path" -> {
                    installPath = y.scalar(t.getValueNode(), at + ".install-path");
                    String bad = Names.checkRelativePath(installPath);
                    if (bad != null) {
                        throw y.error(t.getValueNode(), at + ".install-path: " + bad);
                    }
                }
                case "name" -> {
                    label = y.scalar(t.getValueNode(), at + ".name");
                    if (!label.matches("[A-Za-z0-9][A-Za-z0-9._]*")) {
                        throw y.error(t.getValueNode(), at + ".name: letters, digits, '.' and '_' only, not '" + label + "'");
                    }
                }
                default -> throw y.error(t.getKeyNode(), "unknown key '" + key + "' in " + at
                        + "; expected path, install-path, name");
            }
        }
        if (path == null || installPath == null) {
            throw y.error(item, at + ": every archive needs path (a directory or a .zip, relative to this file) and "
                    + "install-path (where it goes inside the release)");
        }
        if (label == null) {
            label = installPath.replaceAll("[^A-Za-z0-9._]+", "_");
        }
        return new AppSpec.Archive(label, path, installPath, YamlTree.line(item));
    }

    private static HookCommand hook(YamlTree y, MappingNode m, String at) {
        HookCommand.Builder h = HookCommand.newBuilder();
        for (NodeTuple t : m.getValue()) {
            String key = y.scalar(t.getKeyNode(), "a key of " + at);
            switch (key) {
                case "argv" -> h.addAllArgv(argv(y, t.getValueNode(), at + ".argv"));
                case "timeout-seconds" -> h.setTimeoutSeconds(number(y, t.getValueNode(), at + "." + key, 1, 3600));
                default -> throw y.error(t.getKeyNode(), "unknown key '" + key + "' in " + at
                        + "; expected argv, timeout-seconds");
            }
        }
        if (h.getArgvCount() == 0) {
            throw y.error(m, at + ": argv (the command, a list) is required");
        }
        if (h.getTimeoutSeconds() == 0) {
            h.setTimeoutSeconds(60);
        }
        return h.build();
    }

    private static HealthCheck health(YamlTree y, MappingNode m, String at) {
        HealthCheck.Builder h = HealthCheck.newBuilder().setTimeoutSeconds(5).setRetries(3).setIntervalMs(1000);
        for (NodeTuple t : m.getValue()) {
            String key = y.scalar(t.getKeyNode(), "a key of " + at);
            Node v = t.getValueNode();
            switch (key) {
                case "http-url" -> h.setHttpUrl(y.scalar(v, at + ".http-url"));
                case "command" -> h.setCommand(HookCommand.newBuilder().addAllArgv(argv(y, v, at + ".command")));
                case "timeout-seconds" -> h.setTimeoutSeconds(number(y, v, at + "." + key, 1, 600));
                case "retries" -> h.setRetries(number(y, v, at + "." + key, 0, 100));
                case "interval-ms" -> h.setIntervalMs(number(y, v, at + "." + key, 0, 600_000));
                default -> throw y.error(t.getKeyNode(), "unknown key '" + key + "' in " + at
                        + "; expected http-url or command, timeout-seconds, retries, interval-ms");
            }
        }
        if (h.getHttpUrl().isEmpty() == !h.hasCommand()) {
            throw y.error(m, at + ": give exactly one of http-url (on loopback) and command (a list)");
        }
        return h.build();
    }

    private static List<String> argv(YamlTree y, Node v, String at) {
        if (!(v instanceof SequenceNode seq) || seq.getValue().isEmpty()) {
            throw y.error(v, at + ": expected a non-empty list (program, then its arguments), not " + YamlTree.kind(v));
        }
        List<String> out = new ArrayList<>();
        for (Node n : seq.getValue()) {
            out.add(y.scalar(n, at + " entry"));
        }
        return out;
    }

    private static int number(YamlTree y, Node v, String at, int min, int max) {
        String s = y.scalar(v, at);
        if (!s.matches("[0-9]{1,9}") || Integer.parseInt(s) < min || Integer.parseInt(s) > max) {
            throw y.error(v, at + ": expected a whole number from " + min + " to " + max + ", not '" + s + "'");
        }
        return Integer.parseInt(s);
    }
}

package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.config.YamlTree;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Ansible's YAML inventory form: top-level groups (normally just {@code all}), each a mapping with optional
 * {@code hosts} (host name to its variables, or empty), {@code vars} and {@code children} (group name to the same
 * structure). Every error names {@code file:line}.
 */
final class InventoryYaml {
    private final YamlTree yaml;
    private final Inventory inv;

    private InventoryYaml(Path file, Inventory inv) {
        this.yaml = YamlTree.of(file);
        this.inv = inv;
    }

    static void parse(Path file, String text, Inventory inv) {
        org.yaml.snakeyaml.nodes.Node root = YamlTree.of(file).compose(text);
        if (root == null) {
            return; // an empty inventory: no hosts
        }
        InventoryYaml p = new InventoryYaml(file, inv);
        for (NodeTuple t : p.mapping(root, "the top level").getValue()) {
            p.group(p.scalar(t.getKeyNode(), "a group name"), t.getValueNode());
        }
    }

    private void group(String name, org.yaml.snakeyaml.nodes.Node body) {
        if (!name.matches("[A-Za-z0-9_.-]+")) {
            throw error(body, "group name '" + name + "' has characters Ansible does not allow");
        }
        inv.addGroup(name);
        if (isNull(body)) {
            return;
        }
        for (NodeTuple t : mapping(body, "group '" + name + "'").getValue()) {
            String key = scalar(t.getKeyNode(), "a key of group '" + name + "'");
            org.yaml.snakeyaml.nodes.Node v = t.getValueNode();
            switch (key) {
                case "hosts" -> {
                    if (isNull(v)) {
                        continue;
                    }
                    for (NodeTuple h : mapping(v, "hosts of group '" + name + "'").getValue()) {
                        String host = scalar(h.getKeyNode(), "a host name");
                        inv.addHost(name, host, vars(h.getValueNode(), "host '" + host + "'"));
                    }
                }
                case "vars" -> inv.addGroupVars(name, vars(v, "vars of group '" + name + "'"));
                case "children" -> {
                    if (isNull(v)) {
                        continue;
                    }
                    for (NodeTuple c : mapping(v, "children of group '" + name + "'").getValue()) {
                        String child = scalar(c.getKeyNode(), "a child group name");
                        inv.addChild(name, child);
                        group(child, c.getValueNode());
                    }
                }
                default -> throw error(t.getKeyNode(), "group '" + name + "' has key '" + key
                        + "'; expected hosts, vars or children");
            }
        }
    }

    private Map<String, String> vars(org.yaml.snakeyaml.nodes.Node n, String what) {
        Map<String, String> out = new LinkedHashMap<>();
        if (isNull(n)) {
            return out;
        }
        for (NodeTuple t : mapping(n, what).getValue()) {
            String key = scalar(t.getKeyNode(), "a variable name of " + what);
            org.yaml.snakeyaml.nodes.Node v = t.getValueNode();
            if (v instanceof ScalarNode s) {
                out.put(key, s.getValue());
            } else if (v instanceof SequenceNode || v instanceof MappingNode) {
                out.put(key, v.toString()); // structured values are kept but not interpreted by pinfleet
            }
        }
        return out;
    }

    private MappingNode mapping(org.yaml.snakeyaml.nodes.Node n, String what) {
        return yaml.mapping(n, what);
    }

    private String scalar(org.yaml.snakeyaml.nodes.Node n, String what) {
        return yaml.scalar(n, what);
    }

    private static boolean isNull(org.yaml.snakeyaml.nodes.Node n) {
        return YamlTree.isNull(n);
    }

    private CliException error(org.yaml.snakeyaml.nodes.Node n, String why) {
        return yaml.error(n, why);
    }
}

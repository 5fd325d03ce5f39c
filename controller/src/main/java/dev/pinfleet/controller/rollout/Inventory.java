package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An Ansible inventory, the same file the Ansible roles use, in either of Ansible's two forms: INI
 * ({@code [group]} sections of host lines {@code name key=value …}, {@code [group:vars]}, {@code [group:children]};
 * hosts before any section belong to "ungrouped") or YAML ({@code all: {hosts, vars, children}}, see
 * {@link InventoryYaml}). Variables: all < group (parents before children) < host. {@link #select} applies an
 * Ansible {@code --limit} pattern (see {@link Limit}).
 */
public final class Inventory {
    private final Map<String, Map<String, String>> hostVars = new LinkedHashMap<>();
    private final Map<String, Set<String>> groupHosts = new LinkedHashMap<>();
    private final Map<String, Set<String>> groupChildren = new LinkedHashMap<>();
    private final Map<String, Map<String, String>> groupVars = new LinkedHashMap<>();

    private Inventory() {}

    /** Reads an INI or YAML inventory (YAML for .yml/.yaml, or when the first entry looks like {@code all:}). */
    public static Inventory read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new CliException("inventory " + file + ": not found (no file " + file.toAbsolutePath()
                    + "); give the Ansible inventory with -i FILE");
        } catch (IOException e) {
            throw new CliException("inventory " + file + ": cannot read: " + dev.pinfleet.fs.IoErrors.describe(e));
        }
        return parse(file, text);
    }

    /** Parses {@code text} as the content of {@code file} (e.g. an inventory snapshot kept in a rollout's record). */
    public static Inventory parse(Path file, String text) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString();
        Inventory inv;
        if (name.endsWith(".yml") || name.endsWith(".yaml") || looksLikeYaml(text)) {
            inv = new Inventory();
            InventoryYaml.parse(file, text, inv);
        } else {
            inv = readIni(file, text.lines().toList());
        }
        inv.source = file;
        return inv;
    }

    private static boolean looksLikeYaml(String text) {
        for (String line : text.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#") || l.equals("---")) {
                continue;
            }
            return l.matches("[A-Za-z0-9_.-]+:\\s*(\\{.*)?");
        }
        return false;
    }

    private Path source;

    /** The file this inventory was read from. */
    public Path source() {
        return source;
    }

    void addHost(String group, String host, Map<String, String> vars) {
        hostVars.computeIfAbsent(host, h -> new LinkedHashMap<>()).putAll(vars);
        groupHosts.computeIfAbsent(group, g -> new LinkedHashSet<>()).add(host);
    }

    void addGroup(String group) {
        groupHosts.computeIfAbsent(group, g -> new LinkedHashSet<>());
    }

    void addGroupVars(String group, Map<String, String> vars) {
        addGroup(group);
        groupVars.computeIfAbsent(group, g -> new LinkedHashMap<>()).putAll(vars);
    }

    void addChild(String group, String child) {
        addGroup(group);
        addGroup(child);
        groupChildren.computeIfAbsent(group, g -> new LinkedHashSet<>()).add(child);
    }

    /** Host names in inventory order. */
    public List<String> hosts() {
        return List.copyOf(hostVars.keySet());
    }

    /** Group names (without the implicit "all"). */
    public Set<String> groups() {
        return java.util.Collections.unmodifiableSet(groupHosts.keySet());
    }

    /** Hosts in a group, directly or through its children ("all": every host). */
    public List<String> hostsOf(String group) {
        List<String> out = new ArrayList<>();
        for (String host : hostVars.keySet()) {
            if (group.equals("all") || contains(group, host, new LinkedHashSet<>())) {
                out.add(host);
            }
        }
        return out;
    }

    /** Variables of the "all" group. */
    public Map<String, String> globalVars() {
        return java.util.Collections.unmodifiableMap(groupVars.getOrDefault("all", Map.of()));
    }

    /**
     * Hosts an Ansible {@code --limit} pattern selects, in inventory order; empty or null selects all. A term that
     * names no host or group is an error, and so is a pattern that selects nothing.
     */
    public List<Node> select(String limit) {
        List<Node> out = new ArrayList<>();
        for (String h : Limit.parse(limit).apply(this)) {
            out.add(node(h));
        }
        return out;
    }

    private static Inventory readIni(Path file, List<String> lines) {
        Inventory inv = new Inventory();
        String group = "ungrouped";
        String kind = "hosts";
        for (int i = 0; i < lines.size(); i++) {
            String where = file + ":" + (i + 1);
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            if (line.startsWith("[")) {
                if (!line.endsWith("]") || line.length() < 3) {
                    throw new CliException(where + ": section header '" + line + "' is not [name], [name:vars] or [name:children]");
                }
                String head = line.substring(1, line.length() - 1).strip();
                int colon = head.indexOf(':');
                group = colon < 0 ? head : head.substring(0, colon);
                kind = colon < 0 ? "hosts" : head.substring(colon + 1);
                if (!group.matches("[A-Za-z0-9_.-]+")) {
                    throw new CliException(where + ": group name '" + group + "' has characters Ansible does not allow");
                }
                if (!kind.equals("hosts") && !kind.equals("vars") && !kind.equals("children")) {
                    throw new CliException(where + ": unknown section kind ':" + kind + "' (expected :vars or :children)");
                }
                inv.groupHosts.computeIfAbsent(group, g -> new LinkedHashSet<>());
                continue;
            }
            switch (kind) {
                case "hosts" -> {
                    List<String> tokens = tokenize(line, where);
                    String host = tokens.get(0);
                    if (host.contains("=")) {
                        throw new CliException(where + ": host line starts with a variable '" + host + "'");
                    }
                    Map<String, String> vars = inv.hostVars.computeIfAbsent(host, h -> new LinkedHashMap<>());
                    for (String t : tokens.subList(1, tokens.size())) {
                        int eq = t.indexOf('=');
                        if (eq <= 0) {
                            throw new CliException(where + ": '" + t + "' is not key=value");
                        }
                        vars.put(t.substring(0, eq), t.substring(eq + 1));
                    }
                    inv.groupHosts.computeIfAbsent(group, g -> new LinkedHashSet<>()).add(host);
                }
                case "vars" -> {
                    int eq = line.indexOf('=');
                    if (eq <= 0) {
                        throw new CliException(where + ": '" + line + "' is not key=value");
                    }
                    inv.groupVars.computeIfAbsent(group, g -> new LinkedHashMap<>())
                            .put(line.substring(0, eq).strip(), unquote(line.substring(eq + 1).strip()));
                }
                default -> inv.groupChildren.computeIfAbsent(group, g -> new LinkedHashSet<>()).add(line);
            }
        }
        for (Map.Entry<String, Set<String>> e : inv.groupChildren.entrySet()) {
            for (String child : e.getValue()) {
                if (!inv.groupHosts.containsKey(child)) {
                    throw new CliException("inventory " + file + ": group '" + e.getKey() + "' lists unknown child group '"
                            + child + "'");
                }
            }
        }
        return inv;
    }

    private static List<String> tokenize(String line, String where) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    cur.append(c);
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '#' && cur.length() == 0) {
                break;
            } else if (Character.isWhitespace(c)) {
                if (cur.length() > 0) {
                    out.add(cur.toString());
                    cur.setLength(0);
                }
            } else {
                cur.append(c);
            }
        }
        if (quote != 0) {
            throw new CliException(where + ": unterminated quote");
        }
        if (cur.length() > 0) {
            out.add(cur.toString());
        }
        return out;
    }

    private static String unquote(String v) {
        if (v.length() >= 2 && (v.charAt(0) == '"' || v.charAt(0) == '\'') && v.charAt(v.length() - 1) == v.charAt(0)) {
            return v.substring(1, v.length() - 1);
        }
        return v;
    }

    /** Groups a host belongs to, directly or through children, parents first. */
    private List<String> groupsOf(String host) {
        List<String> out = new ArrayList<>();
        for (String g : groupHosts.keySet()) {
            if (contains(g, host, new LinkedHashSet<>())) {
                out.add(g);
            }
        }
        out.sort((a, b) -> Integer.compare(depth(a, new LinkedHashSet<>()), depth(b, new LinkedHashSet<>())));
        return out;
    }

    private boolean contains(String group, String host, Set<String> visiting) {
        if (!visiting.add(group)) {
            return false;
        }
        if (groupHosts.getOrDefault(group, Set.of()).contains(host)) {
            return true;
        }
        for (String child : groupChildren.getOrDefault(group, Set.of())) {
            if (contains(child, host, visiting)) {
                return true;
            }
        }
        return false;
    }

    private int depth(String group, Set<String> visiting) {
        if (!visiting.add(group)) {
            return 0;
        }
        int d = 0;
        for (Map.Entry<String, Set<String>> e : groupChildren.entrySet()) {
            if (e.getValue().contains(group)) {
                d = Math.max(d, 1 + depth(e.getKey(), visiting));
            }
        }
        return d;
    }

    /** Hosts of the inventory, or of one group ("all" for every host), in file order. */
    public List<Node> nodes(String group) {
        List<Node> out = new ArrayList<>();
        for (String host : hostVars.keySet()) {
            if (!group.equals("all") && !contains(group, host, new LinkedHashSet<>())) {
                continue;
            }
            out.add(node(host));
        }
        if (out.isEmpty() && !group.equals("all") && !groupHosts.containsKey(group)) {
            throw new CliException("inventory has no group '" + group + "'");
        }
        return out;
    }

    private Node node(String host) {
        Map<String, String> vars = new LinkedHashMap<>(groupVars.getOrDefault("all", Map.of()));
        for (String g : groupsOf(host)) {
            vars.putAll(groupVars.getOrDefault(g, Map.of()));
        }
        vars.putAll(hostVars.get(host));
        String address = vars.getOrDefault("ansible_host", host);
        String portText = vars.getOrDefault("pinfleet_agent_port", String.valueOf(Node.DEFAULT_PORT));
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw new CliException("inventory host " + host + ": pinfleet_agent_port '" + portText + "' is not a number");
        }
        if (port < 1 || port > 65535) {
            throw new CliException("inventory host " + host + ": pinfleet_agent_port " + port + " is out of range");
        }
        return new Node(host, address, port, Map.copyOf(vars));
    }
}

package dev.pinfleet.controller.client;

import dev.pinfleet.controller.rollout.Inventory;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.proto.v1.Target;
import dev.pinfleet.proto.v1.Targets;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Options every fleet command shares: the inventory, the {@code --limit} pattern, and how the embedded controller
 * reaches the agents ({@link AgentTlsOptions}). The targets go to the controller with a snapshot of the inventory.
 */
public final class FleetOptions {
    @Option(names = {"-i", "--inventory"}, required = true, paramLabel = "FILE",
            description = "Ansible inventory, INI or YAML (.yml/.yaml).")
    Path inventory;

    @Option(names = {"-l", "--limit"}, paramLabel = "PATTERN", description = {
        "Ansible host pattern: host, group, glob (web*), ~regex, @file of hosts; ',' or ':' between terms,",
        "'!' excludes, '&' intersects. A term naming nothing is an error. Default: all hosts."})
    String limit;

    @Mixin AgentTlsOptions agents;

    private Inventory inv;

    public Inventory inventory() {
        if (inv == null) {
            inv = Inventory.read(inventory);
        }
        return inv;
    }

    public Path inventoryFile() {
        return inventory;
    }

    public String limit() {
        return limit == null ? "" : limit;
    }

    /** The targeted nodes, in inventory order. */
    public List<Node> nodes() {
        return inventory().select(limit);
    }

    /** {@code nodes} as the controller takes them, with the inventory's snapshot. */
    Targets targets(List<Node> nodes) {
        String text;
        try {
            text = Files.readString(inventory, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new dev.pinfleet.controller.CliException("inventory " + inventory + ": cannot read: " + e.getMessage());
        }
        Targets.Builder t = Targets.newBuilder().setInventory(inventory.toAbsolutePath().normalize().toString())
                .setInventoryText(text).setLimit(limit()).setPlaintext(agents.plaintext(inventory().globalVars()));
        for (Node n : nodes) {
            t.addNodes(Target.newBuilder().setName(n.name()).setHost(n.host()).setPort(n.port())
                    .setEnvironment(n.vars().getOrDefault(Node.ENVIRONMENT_VAR, "")));
        }
        return t.build();
    }
}

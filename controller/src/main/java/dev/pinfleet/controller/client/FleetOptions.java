package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.ControllerTls;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Options every fleet command shares: the inventory, the {@code --limit} pattern and how to reach the agents
 * (mutual TLS, or plaintext to loopback for development). TLS files come from the flags, else the environment
 * ({@code PINFLEET_TLS_DIR}, {@code PINFLEET_TLS_CERT}, {@code PINFLEET_TLS_KEY}, {@code PINFLEET_TLS_CA}), else
 * the inventory's {@code all} variables ({@code pinfleet_tls_dir}, {@code pinfleet_tls_cert}, …). A TLS directory
 * means {@code DIR/ca.crt}, {@code DIR/controller.crt} and {@code DIR/controller.key}.
 */
public final class FleetOptions {
    @Option(names = {"-i", "--inventory"}, required = true, paramLabel = "FILE",
            description = "Ansible inventory, INI or YAML (.yml/.yaml).")
    Path inventory;

    @Option(names = {"-l", "--limit"}, paramLabel = "PATTERN", description = {
        "Ansible host pattern: host, group, glob (web*), ~regex, @file of hosts; ',' or ':' between terms,",
        "'!' excludes, '&' intersects. A term naming nothing is an error. Default: all hosts."})
    String limit;

    @Option(names = "--tls-dir", paramLabel = "DIR", description = "Directory with ca.crt, controller.crt, controller.key.")
    Path tlsDir;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Controller certificate (role controller).")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Its private key.")
    Path tlsKey;

    @Option(names = "--tls-ca", paramLabel = "PEM", description = "Fleet CA certificate that agent certificates must chain to.")
    Path tlsCa;

    @Option(names = "--plaintext", description = "No TLS: development only, every agent must be on loopback.")
    boolean plaintext;

    private Inventory inv;
    private Map<String, String> env = System.getenv();

    /** For tests: the environment the TLS defaults come from. */
    void environment(Map<String, String> env) {
        this.env = env;
    }

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

    /** A client for these nodes: TLS when configured, else plaintext when asked for (loopback only). */
    public AgentClient client(List<Node> nodes) {
        Map<String, String> vars = inventory().globalVars();
        if (plaintext || "true".equalsIgnoreCase(vars.getOrDefault("pinfleet_plaintext", ""))) {
            return AgentClient.plaintext(nodes);
        }
        Path dir = pick(tlsDir, "PINFLEET_TLS_DIR", "pinfleet_tls_dir", vars);
        Path cert = pick(tlsCert, "PINFLEET_TLS_CERT", "pinfleet_tls_cert", vars);
        Path key = pick(tlsKey, "PINFLEET_TLS_KEY", "pinfleet_tls_key", vars);
        Path ca = pick(tlsCa, "PINFLEET_TLS_CA", "pinfleet_tls_ca", vars);
        if (dir != null) {
            cert = cert != null ? cert : dir.resolve("controller.crt");
            key = key != null ? key : dir.resolve("controller.key");
            ca = ca != null ? ca : dir.resolve("ca.crt");
        }
        if (cert == null || key == null || ca == null) {
            throw new CliException("no TLS configuration to reach the agents: give --tls-dir DIR (ca.crt,"
                    + " controller.crt, controller.key) or --tls-cert/--tls-key/--tls-ca (or PINFLEET_TLS_* /"
                    + " inventory vars pinfleet_tls_*), or --plaintext for agents on loopback");
        }
        try {
            return AgentClient.tls(ControllerTls.load(cert, key, ca));
        } catch (IOException e) {
            throw new CliException(e.getMessage());
        }
    }

    private Path pick(Path flag, String envName, String var, Map<String, String> vars) {
        if (flag != null) {
            return flag;
        }
        String v = env.get(envName);
        if (v != null && !v.isBlank()) {
            return Path.of(v);
        }
        v = vars.get(var);
        if (v != null && !v.isBlank()) {
            Path p = Path.of(v);
            return p.isAbsolute() || inventory.toAbsolutePath().getParent() == null ? p
                    : inventory.toAbsolutePath().getParent().resolve(p);
        }
        return null;
    }
}

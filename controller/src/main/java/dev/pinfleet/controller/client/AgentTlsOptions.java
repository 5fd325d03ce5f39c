package dev.pinfleet.controller.client;

import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.ControllerTls;
import dev.pinfleet.controller.rollout.Inventory;
import dev.pinfleet.proto.v1.Targets;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * How the embedded controller reaches the agents: mutual TLS with a controller certificate, or plaintext to
 * loopback agents (development). Files come from the flags, else the environment ({@code PINFLEET_TLS_DIR},
 * {@code PINFLEET_TLS_CERT}, {@code PINFLEET_TLS_KEY}, {@code PINFLEET_TLS_CA}), else the inventory's {@code all}
 * variables ({@code pinfleet_tls_dir}, {@code pinfleet_tls_cert}, …; relative to the inventory). A TLS directory
 * means {@code DIR/ca.crt}, {@code DIR/controller.crt} and {@code DIR/controller.key}. A served controller uses its
 * own certificate and ignores these files.
 */
public final class AgentTlsOptions {
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

    /** Whether the agents are reached without TLS: {@code --plaintext}, or the inventory's {@code pinfleet_plaintext=true}. */
    boolean plaintext(Map<String, String> inventoryVars) {
        return plaintext || "true".equalsIgnoreCase(inventoryVars.getOrDefault("pinfleet_plaintext", ""));
    }

    /** The controller certificate for a rollout's targets (their inventory snapshot gives the variables). */
    ControllerTls tls(Targets targets, CliContext ctx) {
        Path inventory = Path.of(targets.getInventory());
        Map<String, String> vars = targets.getInventoryText().isEmpty() ? Map.of()
                : Inventory.parse(inventory, targets.getInventoryText()).globalVars();
        Path base = inventory.toAbsolutePath().getParent();
        Path dir = pick(tlsDir, "PINFLEET_TLS_DIR", "pinfleet_tls_dir", vars, base, ctx);
        Path cert = pick(tlsCert, "PINFLEET_TLS_CERT", "pinfleet_tls_cert", vars, base, ctx);
        Path key = pick(tlsKey, "PINFLEET_TLS_KEY", "pinfleet_tls_key", vars, base, ctx);
        Path ca = pick(tlsCa, "PINFLEET_TLS_CA", "pinfleet_tls_ca", vars, base, ctx);
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
            return ControllerTls.load(cert, key, ca);
        } catch (IOException e) {
            throw new CliException(e.getMessage());
        }
    }

    private static Path pick(Path flag, String envName, String var, Map<String, String> vars, Path base, CliContext ctx) {
        if (flag != null) {
            return flag;
        }
        String v = ctx.var(envName);
        if (v != null) {
            return Path.of(v);
        }
        v = vars.get(var);
        if (v != null && !v.isBlank()) {
            Path p = Path.of(v);
            return p.isAbsolute() || base == null ? p : base.resolve(p);
        }
        return null;
    }
}

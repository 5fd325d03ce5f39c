package dev.pinfleet.controller.certs;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.trust.FleetRole;
import java.io.IOException;
import dev.pinfleet.controller.OutputOptions;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code pinfleet certs init | issue}: the fleet CA and the certificates for mutual TLS. */
@Command(mixinStandardHelpOptions = true, name = "certs", description = {"The fleet's mutual-TLS certificates: a CA, controller and agent certificates.",
    "Agents accept only controller certificates of their CA; the controller checks each agent's certificate",
    "against the agent's inventory name."},
        subcommands = {CertsCommand.Init.class, CertsCommand.Issue.class})
public final class CertsCommand {
    @Command(mixinStandardHelpOptions = true, name = "init", description = "Create the fleet CA in DIR: ca.crt (give it to every agent as tls-ca) and ca.key (0600; keep it offline).")
    public static final class Init implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "DIR", description = "Directory for ca.crt and ca.key (created; refused if a CA is there).")
        Path dir;

        @Option(names = "--name", defaultValue = "pinfleet fleet CA", description = "CA common name (default: ${DEFAULT-VALUE}).")
        String name;

        @Option(names = "--days", defaultValue = "3650", description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days;

        @Mixin OutputOptions print;

        private final Clock clock;

        public Init(Clock clock) {
            this.clock = clock;
        }

        @Override
        public Integer call() {
            try {
                FleetCa.init(dir, name, Duration.ofDays(days), clock);
            } catch (IOException e) {
                throw new CliException("certs init: " + e.getMessage());
            }
            print.summary("wrote %s and %s (EC P-256, %d days)", dir.resolve("ca.crt"), dir.resolve("ca.key"), days);
            print.result(o -> {
                o.addProperty("certificate", dir.resolve("ca.crt").toString());
                o.addProperty("key", dir.resolve("ca.key").toString());
                o.addProperty("days", days);
            });
            return 0;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "issue", description = {"Issue NAME.crt and NAME.key signed by the fleet CA.",
        "--role agent: NAME must be the host's inventory name (the controller checks it); agent config keys",
        "tls-cert, tls-key, tls-ca. --role controller: the controller, embedded in pinfleet (--tls-dir or --tls-*) or",
        "served by `pinfleet controller serve` (give it --san with the host names operators dial).",
        "--role operator: a person or CI using a served controller; NAME is the operator in every record."})
    public static final class Issue implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "NAME", description = "Inventory name of the agent, a name for the controller (e.g. controller), or the operator's name.")
        String name;

        @Option(names = "--role", required = true, completionCandidates = FleetRole.Ids.class,
                description = "The certificate's role, one of: ${COMPLETION-CANDIDATES}.")
        String role;

        @Option(names = "--dir", defaultValue = ".", description = "Directory of the fleet CA (default: ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "Write NAME.crt/NAME.key here instead of the CA's directory.")
        Path out;

        @Option(names = "--out", hidden = true, paramLabel = "DIR", description = "Old spelling of --output.")
        Path outOld;

        @Option(names = "--san", paramLabel = "NAME_OR_IP", description = "Another DNS name or IP address for the certificate (repeatable).")
        List<String> sans = new ArrayList<>();

        @Option(names = "--days", defaultValue = "825", description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days;

        @Mixin OutputOptions print;

        private final Clock clock;

        public Issue(Clock clock) {
            this.clock = clock;
        }

        @Override
        public Integer call() {
            Path crt;
            try {
                crt = FleetCa.load(dir).issue(role, name, sans, Duration.ofDays(days), out != null ? out : outOld, clock);
            } catch (IOException e) {
                throw new CliException("certs issue: " + e.getMessage());
            }
            Path key = crt.resolveSibling(name + ".key");
            print.summary("wrote %s and %s (role %s)", crt, key, role);
            print.result(o -> {
                o.addProperty("name", name);
                o.addProperty("role", role);
                o.addProperty("certificate", crt.toString());
                o.addProperty("key", key.toString());
                o.addProperty("days", days);
            });
            return 0;
        }
    }
}

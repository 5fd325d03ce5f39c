package dev.pinfleet.controller.service;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.certs.ControllerTls;
import dev.pinfleet.controller.rollout.AgentClient;
import dev.pinfleet.controller.rollout.Node;
import dev.pinfleet.proto.v1.Target;
import dev.pinfleet.proto.v1.Targets;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * How the controller reaches a rollout's agents: mutual TLS with a controller certificate of the fleet CA, or, when
 * the targets ask for it, plaintext to agents on loopback only (development). The served controller has one
 * certificate; the embedded one takes the CLI's (flags, environment, or the inventory's variables).
 */
public final class Agents {
    private final Function<Targets, ControllerTls> tls;

    /** @param tls the controller certificate for a rollout's targets; may throw {@link CliException} naming what is missing */
    public Agents(Function<Targets, ControllerTls> tls) {
        this.tls = tls;
    }

    /** The engine's view of the targets. */
    public static List<Node> nodes(Targets targets) {
        return targets.getNodesList().stream().map(Agents::node).toList();
    }

    static Node node(Target t) {
        return new Node(t.getName(), t.getHost(), t.getPort(),
                t.getEnvironment().isEmpty() ? Map.of() : Map.of(Node.ENVIRONMENT_VAR, t.getEnvironment()));
    }

    /** A client for the targets' nodes; a refusal names what is wrong ({@link ControllerException} INVALID_ARGUMENT). */
    AgentClient client(Targets targets, List<Node> nodes) {
        try {
            return targets.getPlaintext() ? AgentClient.plaintext(nodes) : AgentClient.tls(tls.apply(targets));
        } catch (CliException e) {
            throw ControllerException.invalid(e.getMessage());
        }
    }

    static String describe(Targets targets) {
        return targets.getPlaintext() ? "PLAINTEXT (development)" : "mutual TLS";
    }
}

package dev.pinfleet.controller.rollout;

import java.util.Map;

/**
 * A host from the inventory.
 *
 * @param name inventory name
 * @param host address to dial (ansible_host, else the name)
 * @param port agent port (pinfleet_agent_port, else 7400)
 * @param vars every variable that applies to the host, group variables merged under host variables
 */
public record Node(String name, String host, int port, Map<String, String> vars) {
    public static final int DEFAULT_PORT = 7400;
    /** Variable holding the node's environment: the agent's {@code environment} key, as the Ansible role writes it. */
    public static final String ENVIRONMENT_VAR = "pinfleet_agent_environment";

    public String address() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}

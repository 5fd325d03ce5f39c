package dev.pinfleet.agent.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.Agent;
import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.testing.AnsibleRoles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The Ansible agent role and the README agree with the agent: the configuration template writes, and the README's
 * table lists, exactly the keys {@link AgentConfig#KEYS} documents (and {@code pinfleet-agent --help} shows), in that
 * order; its defaults equal the agent's where they mean the same; the
 * unit's stop timeout covers shutdown-seconds plus {@link Agent#ABORT_GRACE}. (ansible/tests/converge.sh renders
 * the role for real and starts the agent from it.)
 */
class AnsibleRoleTest {
    static final Path ROLE = Path.of("..", "ansible", "roles", "pinfleet_agent");

    private static String read(String file) throws Exception {
        return Files.readString(ROLE.resolve(file), StandardCharsets.UTF_8);
    }


    @Test
    void theConfigTemplateWritesExactlyTheDocumentedKeysInOrder() throws Exception {
        List<String> written = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^([a-z][a-z-]*)=").matcher(read("templates/agent.properties.j2"));
        while (m.find()) {
            written.add(m.group(1));
        }
        assertEquals(List.copyOf(AgentConfig.KEYS.keySet()), written,
                "ansible/roles/pinfleet_agent/templates/agent.properties.j2 must write every key of AgentConfig.KEYS");
    }

    @Test
    void theReadmeTableListsExactlyTheKeysInOrder() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"), StandardCharsets.UTF_8);
        String section = readme.substring(readme.indexOf("## The agent"));
        List<String> listed = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\| `([a-z][a-z-]*)` \\|").matcher(section.substring(0,
                section.indexOf("\n## ")));
        while (m.find()) {
            listed.add(m.group(1));
        }
        assertEquals(List.copyOf(AgentConfig.KEYS.keySet()), listed,
                "README.md's agent table must list every key of AgentConfig.KEYS, in that order");
    }

    @Test
    void roleDefaultsEqualTheAgentsDefaultsWhereTheyMeanTheSame() throws Exception {
        Map<String, String> defaults = AnsibleRoles.yamlScalars(read("defaults/main.yml"));
        for (String key : List.of("threshold", "environment", "fetch-parallelism", "install-parallelism",
                "keep-releases", "store-max-bytes", "shutdown-seconds", "plaintext", "root", "grpc-max-connections",
                "grpc-handshake-timeout", "grpc-max-connection-idle")) {
            String var = "pinfleet_agent_" + key.replace('-', '_');
            assertTrue(defaults.containsKey(var), var + " is not in the role's defaults");
            assertEquals(AgentConfig.KEYS.get(key)[0], defaults.get(var), var + " vs the agent's default of " + key);
        }
        assertEquals(AgentConfig.KEYS.get("listen")[0].replaceAll(".*:", ""), defaults.get("pinfleet_agent_port"),
                "pinfleet_agent_port is the agent's default port (and `pinfleet deploy`'s)");
        assertEquals(AgentConfig.KEYS.get("trusted-keys")[0], defaults.get("pinfleet_agent_config_dir") + "/trusted-keys");
    }

    @Test
    void theUnitIsHardenedAndWaitsForAGracefulStop() throws Exception {
        String unit = read("templates/pinfleet-agent.service.j2");
        for (String line : List.of("User={{ pinfleet_agent_user }}", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "ReadWritePaths={{ pinfleet_agent_path_root }}", "PrivateTmp=yes", "Restart=on-failure",
                "LimitNOFILE={{ pinfleet_agent_limit_nofile }}", "TimeoutStopSec={{ pinfleet_agent_timeout_stop }}s",
                "KillSignal=SIGTERM", "SuccessExitStatus=143")) {
            assertTrue(unit.lines().anyMatch(line::equals), "the unit template lacks: " + line);
        }
        String stop = AnsibleRoles.yamlScalars(read("vars/main.yml")).get("pinfleet_agent_timeout_stop");
        Matcher m = Pattern.compile("\\{\\{ pinfleet_agent_shutdown_seconds \\| int \\+ (\\d+) }}").matcher(stop);
        assertTrue(m.matches(), "pinfleet_agent_timeout_stop: " + stop);
        long margin = Long.parseLong(m.group(1));
        assertTrue(margin >= Agent.ABORT_GRACE.toSeconds() + 5, "TimeoutStopSec = shutdown-seconds + " + margin
                + " s leaves too little for ABORT_GRACE (" + Agent.ABORT_GRACE.toSeconds() + " s) and the JVM's exit");
    }
}

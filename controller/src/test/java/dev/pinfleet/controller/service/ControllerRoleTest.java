package dev.pinfleet.controller.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import picocli.CommandLine;

/**
 * The Ansible controller role agrees with {@code pinfleet controller serve}: its configuration template writes
 * exactly the keys {@link ServeConfig#KEYS} documents, in that order, each of which the command also takes as a
 * flag; its defaults equal the service's where they mean the same; the unit is hardened and its stop timeout covers
 * the controller's own. (ansible/tests/converge.sh renders the role for real and starts the service from it.)
 */
class ControllerRoleTest {
    static final Path ROLE = Path.of("..", "ansible", "roles", "pinfleet_controller");

    private static String read(String file) throws Exception {
        return Files.readString(ROLE.resolve(file), StandardCharsets.UTF_8);
    }


    @Test
    void theConfigTemplateWritesExactlyTheDocumentedKeysInOrderAndEachIsAFlag() throws Exception {
        List<String> written = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^([a-z][a-z-]*)=").matcher(read("templates/controller.properties.j2"));
        while (m.find()) {
            written.add(m.group(1));
        }
        assertEquals(List.copyOf(ServeConfig.KEYS.keySet()), written);
        CommandLine serve = new CommandLine(new ServeCommand.Serve(java.time.Clock.systemUTC()));
        for (String key : ServeConfig.KEYS.keySet()) {
            assertTrue(serve.getCommandSpec().findOption("--" + key) != null, "controller serve lacks --" + key);
        }
        assertEquals(ServeConfig.KEYS.keySet(), new ServeCommand.Serve(java.time.Clock.systemUTC()).flags().keySet());
    }

    @Test
    void roleDefaultsEqualTheServicesDefaultsWhereTheyMeanTheSame() throws Exception {
        Map<String, String> defaults = AnsibleRoles.yamlScalars(read("defaults/main.yml"));
        assertEquals(ServeConfig.KEYS.get("threshold")[0], defaults.get("pinfleet_controller_threshold"));
        assertEquals(ServeConfig.KEYS.get("lease-seconds")[0], defaults.get("pinfleet_controller_lease_seconds"));
        assertEquals(ServeConfig.KEYS.get("status-poll-seconds")[0],
                defaults.get("pinfleet_controller_status_poll_seconds"));
        assertEquals(ServeConfig.KEYS.get("listen")[0].replaceAll(".*:", ""), defaults.get("pinfleet_controller_port"));
        assertEquals(ServeConfig.KEYS.get("database")[0], defaults.get("pinfleet_controller_data_dir") + "/records.db");
        assertEquals(ServeConfig.KEYS.get("tls-cert")[0], defaults.get("pinfleet_controller_config_dir")
                + "/tls/controller.crt");
    }

    @Test
    void theUnitIsHardenedAndWaitsForTheControllerToRecordItsRollouts() throws Exception {
        String unit = read("templates/pinfleet-controller.service.j2");
        for (String line : List.of("User={{ pinfleet_controller_user }}", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "ReadWritePaths={{ pinfleet_controller_path_data }}", "PrivateTmp=yes", "ProtectHome=yes",
                "Restart=on-failure", "KillSignal=SIGTERM", "SuccessExitStatus=143", "CapabilityBoundingSet=",
                "TimeoutStopSec={{ pinfleet_controller_timeout_stop }}s")) {
            assertTrue(unit.lines().anyMatch(line::equals), "the unit template lacks: " + line);
        }
        long stop = Long.parseLong(AnsibleRoles.yamlScalars(read("vars/main.yml")).get("pinfleet_controller_timeout_stop"));
        assertTrue(stop >= Controller.STOP_SECONDS + 10, "TimeoutStopSec " + stop + " s leaves too little for the"
                + " controller's " + Controller.STOP_SECONDS + " s to record its rollouts interrupted");
    }
}

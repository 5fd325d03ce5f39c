package dev.pinfleet.controller.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.controller.CliException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InventoryTest {
    @TempDir Path dir;

    private Inventory inv(String text) throws Exception {
        Path f = dir.resolve("hosts.ini");
        Files.writeString(f, text);
        return Inventory.read(f);
    }

    @Test
    void hostsGroupsChildrenAndVariables() throws Exception {
        Inventory inv = inv("""
                # fleet
                lonely.example ansible_host=10.0.0.9

                [web]
                web1 ansible_host=127.0.0.1 pinfleet_agent_port=7401
                web2 ansible_host="127.0.0.2"

                [web:vars]
                pinfleet_agent_port=7500

                [api]
                api1

                [prod:children]
                web
                api

                [prod:vars]
                pinfleet_agent_port=7600
                env=production
                """);
        List<Node> web = inv.nodes("web");
        assertEquals(List.of("web1", "web2"), web.stream().map(Node::name).toList());
        assertEquals(7401, web.get(0).port(), "host variable wins");
        assertEquals(7500, web.get(1).port(), "child group variable beats parent group variable");
        assertEquals("127.0.0.2", web.get(1).host());
        assertEquals("production", web.get(1).vars().get("env"));
        Node api1 = inv.nodes("prod").get(2);
        assertEquals("api1", api1.host());
        assertEquals(7600, api1.port());
        assertEquals(4, inv.nodes("all").size());
        assertEquals(Node.DEFAULT_PORT, inv.nodes("ungrouped").get(0).port());
    }

    @Test
    void syntaxErrorsNameFileAndLine() throws Exception {
        CliException e = assertThrows(CliException.class, () -> inv("[web]\nweb1\n[broken\n"));
        assertTrue(e.getMessage().startsWith(dir.resolve("hosts.ini") + ":3: section header"), e.getMessage());
        e = assertThrows(CliException.class, () -> inv("[web]\nweb1 port\n"));
        assertTrue(e.getMessage().contains(":2: 'port' is not key=value"), e.getMessage());
        e = assertThrows(CliException.class, () -> inv("[web]\nweb1 pinfleet_agent_port=x\n").nodes("all"));
        assertTrue(e.getMessage().contains("not a number"), e.getMessage());
        e = assertThrows(CliException.class, () -> inv("[web]\nweb1\n").nodes("db"));
        assertTrue(e.getMessage().contains("no group 'db'"), e.getMessage());
    }
}

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

    private Inventory yaml(String text) throws Exception {
        Path f = dir.resolve("hosts.yml");
        Files.writeString(f, text);
        return Inventory.read(f);
    }

    private static List<String> names(List<Node> nodes) {
        return nodes.stream().map(Node::name).toList();
    }

    private static final String FLEET_YAML = """
            all:
              vars:
                pinfleet_agent_port: 7600
              hosts:
                lonely:
              children:
                web:
                  hosts:
                    web1: {ansible_host: 127.0.0.1, pinfleet_agent_port: 7401}
                    web2:
                      ansible_host: 127.0.0.2
                    web10:
                  vars:
                    env: production
                db:
                  hosts:
                    db1:
                    web2:
                canary:
                  children:
                    web:
            """;

    @Test
    void yamlInventoryWithHostsVarsAndChildren() throws Exception {
        Inventory inv = yaml(FLEET_YAML);
        assertEquals(List.of("lonely", "web1", "web2", "web10", "db1"), names(inv.select(null)));
        Node web1 = inv.select("web1").get(0);
        assertEquals(7401, web1.port(), "host variable beats the all group");
        Node web2 = inv.select("web2").get(0);
        assertEquals("127.0.0.2", web2.host());
        assertEquals(7600, web2.port());
        assertEquals("production", web2.vars().get("env"));
        assertEquals(List.of("web1", "web2", "web10"), names(inv.select("canary")), "children of children");
    }

    @Test
    void limitPatternsAsAnsibleHasThem() throws Exception {
        Inventory inv = yaml(FLEET_YAML);
        assertEquals(List.of("web1", "web10"), names(inv.select("web1*")), "glob");
        assertEquals(List.of("web1", "web2", "web10", "db1"), names(inv.select("db,web1*")), "union keeps inventory order");
        assertEquals(List.of("web1", "web10"), names(inv.select("web:!db")), "exclusion with ':'");
        assertEquals(List.of("web2"), names(inv.select("web:&db")), "intersection");
        assertEquals(List.of("lonely", "db1"), names(inv.select("!web")), "only exclusions: from all hosts");
        assertEquals(List.of("web2", "web10"), names(inv.select("~web[0-9]{2}|web2")), "regex");
        Path retry = dir.resolve("failed.txt");
        Files.writeString(retry, "# from the last run\nweb2\ndb1\n");
        assertEquals(List.of("web2", "db1"), names(inv.select("@" + retry)));

        CliException unknown = assertThrows(CliException.class, () -> inv.select("web,api"));
        assertTrue(unknown.getMessage().contains("'api' is neither a host nor a group"), unknown.getMessage());
        CliException glob = assertThrows(CliException.class, () -> inv.select("api*"));
        assertTrue(glob.getMessage().contains("'api*' matches no host or group"), glob.getMessage());
        CliException empty = assertThrows(CliException.class, () -> inv.select("web:&lonely"));
        assertTrue(empty.getMessage().contains("selects no host"), empty.getMessage());
        Files.writeString(retry, "web2\nweb99\n");
        CliException badFile = assertThrows(CliException.class, () -> inv.select("@" + retry));
        assertTrue(badFile.getMessage().startsWith(retry + ":2: host 'web99' is not in inventory"), badFile.getMessage());
    }

    @Test
    void yamlErrorsNameFileAndLine() throws Exception {
        Path f = dir.resolve("hosts.yml");
        CliException syntax = assertThrows(CliException.class, () -> yaml("all:\n  hosts:\n    web1: {a: 1\n    web2:\n"));
        assertTrue(syntax.getMessage().startsWith(f + ":4: YAML syntax error"), syntax.getMessage());
        CliException shape = assertThrows(CliException.class, () -> yaml("all:\n  children:\n    web:\n      hosts:\n"
                + "        - web1\n"));
        assertTrue(shape.getMessage().startsWith(f + ":5: hosts of group 'web' must be a mapping"), shape.getMessage());
        CliException key = assertThrows(CliException.class, () -> yaml("all:\n  host:\n    web1:\n"));
        assertTrue(key.getMessage().startsWith(f + ":2: group 'all' has key 'host'"), key.getMessage());
        CliException dup = assertThrows(CliException.class, () -> yaml("all:\n  hosts:\n    web1:\n    web1:\n"));
        assertTrue(dup.getMessage().startsWith(f + ":4: hosts of group 'all': duplicate key 'web1'"), dup.getMessage());
    }
}

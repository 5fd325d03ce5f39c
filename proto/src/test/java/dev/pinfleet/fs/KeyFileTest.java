package dev.pinfleet.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyFileTest {
    @TempDir Path dir;

    private static Map<String, String> defaults() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("node", "");
        d.put("port", "7400");
        return d;
    }

    @Test
    void theFileOverlaysTheDefaultsKeepingTheirOrder() throws Exception {
        Path f = Files.writeString(dir.resolve("agent.conf"), "# comment\nport = 7401  \nnode=web-1\n");
        Map<String, String> v = KeyFile.read(f, defaults());
        assertEquals(List.of("node", "port"), List.copyOf(v.keySet()));
        assertEquals("web-1", v.get("node"));
        assertEquals("7401", v.get("port"), "values are stripped");
        assertEquals(defaults(), KeyFile.read(null, defaults()), "no file: the defaults");
    }

    @Test
    void anUnknownKeyIsRefusedNamingTheFileTheKeyAndTheKnownOnes() throws Exception {
        Path f = Files.writeString(dir.resolve("agent.conf"), "prot = 7401\n");
        IOException e = assertThrows(IOException.class, () -> KeyFile.read(f, defaults()));
        assertEquals(f + ": unknown key 'prot' (known: node, port)", e.getMessage());
    }
}

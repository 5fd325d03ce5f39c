package dev.pinfleet.fs;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * A service's settings file in {@code key = value} ({@link Properties}) syntax, read against the keys the service
 * knows: the agent's and the controller service's configuration files.
 */
public final class KeyFile {
    private KeyFile() {
    }

    /**
     * The defaults, overlaid by the keys of {@code file} (values stripped); {@code file} may be null (defaults only).
     * A key the defaults do not name is refused, naming the file, the key and the known keys.
     *
     * @return a new mutable map in the defaults' order
     */
    public static Map<String, String> read(Path file, Map<String, String> defaults) throws IOException {
        Map<String, String> v = new LinkedHashMap<>(defaults);
        if (file == null) {
            return v;
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        for (String key : p.stringPropertyNames()) {
            if (!defaults.containsKey(key)) {
                throw new IOException(file + ": unknown key '" + key + "' (known: " + String.join(", ", defaults.keySet())
                        + ")");
            }
            v.put(key, p.getProperty(key).strip());
        }
        return v;
    }
}

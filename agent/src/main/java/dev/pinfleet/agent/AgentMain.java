package dev.pinfleet.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/** The agent binary's composition root: `java -jar pinfleet-agent.jar [--config FILE] [--KEY=VALUE …]`. */
public final class AgentMain {
    private AgentMain() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("java.util.logging.SimpleFormatter.format",
                System.getProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tLZ %4$s %3$s: %5$s%6$s%n"));
        Path configFile = null;
        Path portFile = null;
        Path metricsPortFile = null;
        Map<String, String> overrides = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                usage();
                return;
            }
            if (!a.startsWith("--")) {
                fail("unexpected argument '" + a + "'; see --help");
            }
            String key = a.substring(2);
            String value;
            int eq = key.indexOf('=');
            if (eq >= 0) {
                value = key.substring(eq + 1);
                key = key.substring(0, eq);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                fail("option --" + key + " needs a value");
                return;
            }
            switch (key) {
                case "config" -> configFile = Path.of(value);
                case "port-file" -> portFile = Path.of(value);
                case "metrics-port-file" -> metricsPortFile = Path.of(value);
                default -> overrides.put(key, value);
            }
        }
        AgentConfig config;
        try {
            config = AgentConfig.load(configFile, overrides);
        } catch (IllegalArgumentException | IOException e) {
            fail("configuration: " + e.getMessage());
            return;
        }
        Agent agent;
        try {
            agent = new Agent(config, Clock.systemUTC()).start();
        } catch (IOException | IllegalArgumentException e) {
            // e.g. an unsafe root (a planted link, a world-writable directory): the message names the path and why
            fail("cannot start: " + e.getMessage());
            return;
        }
        if (metricsPortFile != null) {
            writePort(metricsPortFile, agent.metricsPort());
        }
        if (portFile != null) {
            writePort(portFile, agent.port());
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            stopped.countDown();
        }, "agent-shutdown"));
        stopped.await();
    }

    private static void usage() {
        StringBuilder b = new StringBuilder();
        b.append("Usage: pinfleet-agent [--config FILE] [--KEY VALUE | --KEY=VALUE ...] [--port-file FILE] [--metrics-port-file FILE]\n\n")
                .append("The pinfleet agent: verifies signed manifests pushed over gRPC, fetches wheels from the\n")
                .append("mirror(s), installs them into a new release and switches `current` atomically.\n\n")
                .append("Configuration keys (file: Java properties KEY=VALUE; flags override the file):\n");
        int width = AgentConfig.KEYS.keySet().stream().mapToInt(String::length).max().orElse(20);
        AgentConfig.KEYS.forEach((k, d) -> b.append(String.format("  %-" + width + "s %s%s%n", k, d[1],
                d[0].isEmpty() ? "" : " [default: " + d[0] + "]")));
        b.append("\n  --port-file FILE     write the bound gRPC port here once listening (useful with listen=HOST:0)\n");
        b.append("  --metrics-port-file FILE  write the bound metrics port here (-1 when metrics-listen is empty),\n"
                + "                       before --port-file is written\n");
        System.out.print(b);
    }

    private static void writePort(Path file, int port) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, port + "\n", StandardCharsets.US_ASCII);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    private static void fail(String message) {
        System.err.println("pinfleet-agent: " + message);
        System.exit(2);
    }
}

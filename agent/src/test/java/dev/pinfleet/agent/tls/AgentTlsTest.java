package dev.pinfleet.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.agent.config.AgentConfig;
import dev.pinfleet.agent.testing.OpenSsl;
import dev.pinfleet.agent.testing.TestFleet;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's server TLS context from real openssl-made files, and the error naming them when one is wrong. */
class AgentTlsTest {
    private static AgentConfig config(Path dir, String cert, String key) throws IOException {
        try (TestFleet fleet = new TestFleet(dir.resolve("fleet"))) {
            Map<String, String> cfg = new LinkedHashMap<>();
            cfg.put("node", "n1");
            cfg.put("root", dir.resolve("root").toString());
            cfg.put("listen", "127.0.0.1:0");
            cfg.put("trusted-keys", fleet.trustedKeys().toString());
            cfg.put("mirrors", "http://127.0.0.1:1/");
            cfg.put("plaintext", "false");
            cfg.put("tls-cert", dir.resolve(cert).toString());
            cfg.put("tls-key", dir.resolve(key).toString());
            cfg.put("tls-ca", dir.resolve("ca.crt").toString());
            return AgentConfig.load(null, cfg);
        }
    }

    @Test
    void theContextIsAServerOneRequiringClientCertificatesAndAWrongFileIsNamed(@TempDir Path dir) throws Exception {
        OpenSsl ssl = new OpenSsl(dir);
        ssl.ca("ca");
        ssl.issue("ca", "n1", "agent");
        SslContext context = AgentTls.serverContext(config(dir, "n1.crt", "n1.key"));
        assertTrue(context.isServer());
        assertTrue(context.newEngine(io.netty.buffer.ByteBufAllocator.DEFAULT).getNeedClientAuth(),
                "a client certificate is required, not just asked for");

        Files.writeString(dir.resolve("broken.key"), "not a key\n");
        AgentConfig wrong = config(dir, "n1.crt", "broken.key");
        IOException e = assertThrows(IOException.class, () -> AgentTls.serverContext(wrong));
        assertTrue(e.getMessage().startsWith("TLS: cannot use tls-cert " + dir.resolve("n1.crt") + ", tls-key "
                + dir.resolve("broken.key") + ", tls-ca " + dir.resolve("ca.crt") + ": "), e.getMessage());
        assertEquals(wrong.tlsKey(), dir.resolve("broken.key"));
    }
}

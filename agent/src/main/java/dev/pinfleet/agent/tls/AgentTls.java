package dev.pinfleet.agent.tls;

import dev.pinfleet.agent.config.AgentConfig;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import javax.net.ssl.SSLException;

/**
 * The agent's side of mutual TLS: its own certificate and key, and the fleet CA as the only trust anchor for
 * client certificates (required). Roles are checked per method by {@link RoleInterceptor}.
 */
public final class AgentTls {
    private AgentTls() {}

    /** Server TLS context from tls-cert, tls-key and tls-ca; the message names the file that is wrong. */
    public static SslContext serverContext(AgentConfig config) throws IOException {
        try {
            return GrpcSslContexts.forServer(config.tlsCert().toFile(), config.tlsKey().toFile())
                    .trustManager(config.tlsCa().toFile())
                    .clientAuth(ClientAuth.REQUIRE)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IOException("TLS: cannot use tls-cert " + config.tlsCert() + ", tls-key " + config.tlsKey()
                    + ", tls-ca " + config.tlsCa() + ": " + e.getMessage(), e);
        }
    }
}

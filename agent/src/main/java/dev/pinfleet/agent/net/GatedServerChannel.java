package dev.pinfleet.agent.net;

import io.netty.channel.Channel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The agent's listening socket: each accepted connection first passes the {@link ConnectionGate} (closed at once
 * when over the cap); when an admitted connection closes, a TLS handshake it failed is logged at INFO with the peer's
 * address and the reason (the client only sees the alert; this is the agent's side of it).
 */
final class GatedServerChannel extends NioServerSocketChannel {
    private static final Logger LOG = Logger.getLogger(GatedServerChannel.class.getName());

    private final ConnectionGate gate;
    private final String node;

    GatedServerChannel(ConnectionGate gate, String node) {
        this.gate = gate;
        this.node = node;
    }

    @Override
    protected int doReadMessages(List<Object> buf) throws Exception {
        int before = buf.size();
        int read = super.doReadMessages(buf);
        for (int i = buf.size() - 1; i >= before; i--) {
            Channel child = (Channel) buf.get(i);
            if (gate.admit(child.remoteAddress())) {
                child.closeFuture().addListener(f -> closed(child));
            } else {
                buf.remove(i);
                read--;
                child.unsafe().closeForcibly();
            }
        }
        return read;
    }

    private void closed(Channel child) {
        gate.closed();
        SslHandler ssl = child.pipeline().get(SslHandler.class);
        if (ssl == null) {
            return;
        }
        Future<Channel> handshake = ssl.handshakeFuture();
        if (handshake.isDone() && !handshake.isSuccess()) {
            Throwable why = handshake.cause();
            LOG.info("node " + node + ": refused the TLS handshake of " + child.remoteAddress() + ": "
                    + (why == null ? "unknown reason" : why.getClass().getSimpleName() + ": " + why.getMessage()));
        } else if (!handshake.isDone()) {
            LOG.log(Level.FINE, "node " + node + ": connection from " + child.remoteAddress() + " closed before its"
                    + " TLS handshake completed");
        }
    }
}

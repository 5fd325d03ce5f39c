package dev.pinfleet.controller.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.pinfleet.proto.v1.NotActive;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.net.ConnectException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The CLI's channel to a served controller given as one or more addresses ({@code --controller a:7300,b:7300}): two
 * controllers on one PostgreSQL, one active, one standby. Calls go to the current address (the first at start). A
 * call that got no answer is sent again elsewhere, at most once per address: to the active controller a standby
 * named when it refused a write (its {@link NotActive} detail), or to the next address when this one could not be
 * connected to (the call never reached a controller, so sending it again cannot do anything twice). The address
 * that answered stays current for the calls that follow. Used by the CLI's blocking stubs: a call's methods and its
 * listener run on the calling thread.
 */
final class ControllerChannel extends Channel {
    private final List<String> addresses;
    private final Function<String, ManagedChannel> open;
    private final Map<String, ManagedChannel> channels = new LinkedHashMap<>(); // guarded by this
    private volatile String current;

    /** {@code addresses} in the order given (at least one); {@code open} makes the channel to one of them. */
    ControllerChannel(List<String> addresses, Function<String, ManagedChannel> open) {
        this.addresses = List.copyOf(addresses);
        this.open = open;
        this.current = addresses.get(0);
    }

    /** Parses {@code --controller}'s value: {@code HOST:PORT[,HOST:PORT…]}; a bad one is named. */
    static List<String> parse(String value) {
        List<String> out = new java.util.ArrayList<>();
        for (String a : value.split(",", -1)) {
            String s = a.strip();
            int colon = s.lastIndexOf(':');
            boolean ok = colon > 0;
            if (ok) {
                try {
                    int port = Integer.parseInt(s.substring(colon + 1));
                    ok = port > 0 && port <= 65535;
                } catch (NumberFormatException e) {
                    ok = false;
                }
            }
            if (!ok) {
                throw new dev.pinfleet.controller.CliException("--controller '" + value + "': '" + s + "' is not HOST:PORT"
                        + " (several controllers: HOST:PORT,HOST:PORT)");
            }
            if (!out.contains(s)) {
                out.add(s);
            }
        }
        return out;
    }

    /** The address calls go to now. */
    String current() {
        return current;
    }

    List<String> addresses() {
        return addresses;
    }

    /** Makes the address after the current one current (a stream from it broke); false when there is only one. */
    boolean next() {
        if (addresses.size() < 2) {
            return false;
        }
        current = after(current);
        return true;
    }

    private String after(String address) {
        int i = addresses.indexOf(address);
        return addresses.get((i + 1) % addresses.size());
    }

    private synchronized ManagedChannel channel(String address) {
        return channels.computeIfAbsent(address, open);
    }

    /** Where a call to {@code tried} that ended with {@code status} and no answer goes instead, or null: nowhere. */
    String reroute(String tried, Status status, Metadata trailers) {
        NotActive n = notActive(status, trailers);
        if (n != null) {
            return n.getActiveAddress().isEmpty() || n.getActiveAddress().equals(tried) ? null : n.getActiveAddress();
        }
        return unreachable(status) && addresses.size() > 1 ? after(tried) : null;
    }

    /** The standby's typed refusal in {@code status}, or null. */
    static NotActive notActive(Status status, Metadata trailers) {
        com.google.rpc.Status s = StatusProto.fromStatusAndTrailers(status, trailers);
        if (s == null) {
            return null;
        }
        for (Any d : s.getDetailsList()) {
            if (d.is(NotActive.class)) {
                try {
                    return d.unpack(NotActive.class);
                } catch (InvalidProtocolBufferException e) {
                    return null;
                }
            }
        }
        return null;
    }

    /** Whether the call failed connecting, before any byte of it reached a controller. */
    static boolean unreachable(Status status) {
        if (status.getCode() != Status.Code.UNAVAILABLE) {
            return false;
        }
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (t instanceof ConnectException) {
                return true;
            }
        }
        return false;
    }

    @Override
    public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
        if (method.getType() == MethodDescriptor.MethodType.UNARY
                || method.getType() == MethodDescriptor.MethodType.SERVER_STREAMING) {
            return new Rerouting<>(method, options);
        }
        return channel(current).newCall(method, options);
    }

    @Override
    public String authority() {
        return channel(current).authority();
    }

    /** Closes every channel opened. */
    synchronized void shutdown() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        for (ManagedChannel c : channels.values()) {
            try {
                c.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * A call of one request that is sent again elsewhere when it ended without an answer (see the class). The caller's
     * thread and the transport's may meet here (a refused connection closes the first attempt at once): every step is
     * taken under the call's lock, so an attempt is replayed only with what the caller had already done.
     */
    private final class Rerouting<Q, R> extends ClientCall<Q, R> {
        private final MethodDescriptor<Q, R> method;
        private final CallOptions options;
        private Listener<R> listener;
        private Metadata headers;
        private Q message;
        private int requested;
        private boolean halfClosed;
        private volatile boolean answered;
        private int attempts;
        private ClientCall<Q, R> call;

        Rerouting(MethodDescriptor<Q, R> method, CallOptions options) {
            this.method = method;
            this.options = options;
        }

        @Override
        public synchronized void start(Listener<R> listener, Metadata headers) {
            this.listener = listener;
            this.headers = headers;
            attempt(current);
        }

        private void attempt(String address) {
            attempts++;
            Metadata h = new Metadata();
            h.merge(headers);
            ClientCall<Q, R> c = channel(address).newCall(method, options);
            call = c;
            c.start(new Listener<R>() {
                @Override
                public void onHeaders(Metadata m) {
                    answered = true;
                    listener.onHeaders(m);
                }

                @Override
                public void onMessage(R r) {
                    answered = true;
                    listener.onMessage(r);
                }

                @Override
                public void onReady() {
                    listener.onReady();
                }

                @Override
                public void onClose(Status s, Metadata trailers) {
                    synchronized (Rerouting.this) {
                        String next = answered || attempts > addresses.size() ? null : reroute(address, s, trailers);
                        if (next != null) {
                            current = next;
                            attempt(next);
                            return;
                        }
                    }
                    listener.onClose(s, trailers);
                }
            }, h);
            if (requested > 0) {
                c.request(requested);
            }
            if (message != null) {
                c.sendMessage(message);
            }
            if (halfClosed) {
                c.halfClose();
            }
        }

        @Override
        public synchronized void request(int n) {
            requested += n;
            call.request(n);
        }

        @Override
        public synchronized void cancel(String why, Throwable cause) {
            call.cancel(why, cause);
        }

        @Override
        public synchronized void halfClose() {
            halfClosed = true;
            call.halfClose();
        }

        @Override
        public synchronized void sendMessage(Q m) {
            message = m;
            call.sendMessage(m);
        }

        @Override
        public synchronized boolean isReady() {
            return call.isReady();
        }
    }
}

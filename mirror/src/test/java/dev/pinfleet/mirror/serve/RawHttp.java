package dev.pinfleet.mirror.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Sends exact request bytes over a plain socket, for targets no HTTP client would send. */
final class RawHttp {
    private RawHttp() {}

    /** A response read to the end of the connection. */
    record Response(int status, String head, byte[] body) {
        String bodyText() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }
    }

    /** Sends {@code GET target} with Connection: close and reads the whole response. */
    static Response get(int port, String target) throws IOException {
        return send(port, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    }

    /** Sends {@code request} verbatim and reads until the server closes. */
    static Response send(int port, String request) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return parse(readAll(s.getInputStream()));
        }
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }

    static Response parse(byte[] raw) {
        String all = new String(raw, StandardCharsets.ISO_8859_1);
        int end = all.indexOf("\r\n\r\n");
        if (end < 0) {
            return new Response(-1, all, new byte[0]);
        }
        String head = all.substring(0, end);
        int status = Integer.parseInt(head.split(" ", 3)[1]);
        byte[] body = Arrays.copyOfRange(raw, end + 4, raw.length);
        return new Response(status, head, body);
    }
}

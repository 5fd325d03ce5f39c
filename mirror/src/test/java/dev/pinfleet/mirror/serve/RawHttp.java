package dev.pinfleet.mirror.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Sends exact request bytes over a plain socket, for targets no HTTP client would send, and shows what a client
 * sees: status line, header lines, body bytes, and when the server closes. (No JDK {@code HttpClient}: it
 * loads the TLS stack when it is built, seconds of a cold JVM that PIT's per-test timeout cannot spare.)
 */
final class RawHttp {
    private RawHttp() {}

    /** A response: status, the head without the blank line, the body. */
    record Response(int status, String head, byte[] body) {
        String bodyText() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }

        /** The value of the first header line named {@code name} (any case), or null. */
        String header(String name) {
            String[] lines = head.split("\r\n");
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0 && lines[i].substring(0, colon).strip().equalsIgnoreCase(name)) {
                    return lines[i].substring(colon + 1).strip();
                }
            }
            return null;
        }
    }

    /** Sends {@code GET target} with Connection: close and reads the whole response. */
    static Response get(int port, String target) throws IOException {
        return send(port, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    }

    /**
     * Sends {@code METHOD target} with the header lines given (each {@code Name: value}) and Connection: close,
     * and reads the whole response.
     */
    static Response request(int port, String method, String target, String... headerLines) throws IOException {
        return send(port, head(method, target, true, headerLines));
    }

    /** The head of an HTTP/1.1 request, ending with its blank line. */
    static String head(String method, String target, boolean close, String... headerLines) {
        StringBuilder b = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: localhost\r\n");
        for (String h : headerLines) {
            b.append(h).append("\r\n");
        }
        if (close) {
            b.append("Connection: close\r\n");
        }
        return b.append("\r\n").toString();
    }

    /** Sends {@code request} verbatim and reads until the server closes. */
    static Response send(int port, String request) throws IOException {
        return parse(exchange(port, request));
    }

    /**
     * Sends {@code requests} at once on one connection (pipelined) and reads their answers, split by Content-Length
     * (no body for the answer to a HEAD request, nor for a 304), until there is one for each request or the server
     * closes the connection: a server that answers everything but does not close is not waited for. Bytes after the
     * last complete answer come last, with status -1.
     */
    static List<Response> pipelined(int port, String... requests) throws IOException {
        try (Socket s = connect(port)) {
            s.getOutputStream().write(String.join("", requests).getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[64 * 1024];
            List<Response> answers = new ArrayList<>();
            int consumed = 0;
            while (answers.size() < requests.length) {
                int n = s.getInputStream().read(buf);
                if (n < 0) {
                    break;
                }
                got.write(buf, 0, n);
                consumed = frame(got.toByteArray(), requests, answers);
            }
            byte[] raw = got.toByteArray();
            if (consumed < raw.length) {
                answers.add(new Response(-1, new String(raw, consumed, raw.length - consumed,
                        StandardCharsets.ISO_8859_1), new byte[0]));
            }
            return answers;
        }
    }

    /** Replaces {@code answers} by the complete answers at the start of {@code raw}; returns the bytes they take. */
    private static int frame(byte[] raw, String[] requests, List<Response> answers) {
        answers.clear();
        int pos = 0;
        while (pos < raw.length) {
            String rest = new String(raw, pos, raw.length - pos, StandardCharsets.ISO_8859_1);
            int end = rest.indexOf("\r\n\r\n");
            if (end < 0 || !rest.startsWith("HTTP/")) {
                break;
            }
            Response head = parse(Arrays.copyOfRange(raw, pos, pos + end + 4));
            int i = answers.size();
            boolean noBody = head.status() == 304 || (i < requests.length && requests[i].startsWith("HEAD "));
            String length = head.header("content-length");
            if (!noBody && length == null) {
                break; // delimited by the end of the connection: complete only then
            }
            int bodyStart = pos + end + 4;
            int n = noBody ? 0 : Integer.parseInt(length);
            if (raw.length - bodyStart < n) {
                break;
            }
            answers.add(new Response(head.status(), head.head(), Arrays.copyOfRange(raw, bodyStart, bodyStart + n)));
            pos = bodyStart + n;
        }
        return pos;
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            // Only a broken server lets this expire (a working one answers a loopback request at once and closes
            // the connection as asked); 10 s is seconds of margin for a busy box.
            s.setSoTimeout(10_000);
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    private static byte[] exchange(int port, String bytes) throws IOException {
        try (Socket s = connect(port)) {
            s.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return readAll(s.getInputStream());
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

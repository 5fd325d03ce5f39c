package dev.pinfleet.controller.rollout;

import io.grpc.Status;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.security.cert.CertificateException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * Why an agent could not be asked, in an operator's words with the next step: not gRPC's "io exception" and its
 * channel pipeline, nor a Java class name. The common causes — nothing listening, an unknown host, a certificate that
 * does not carry the node's inventory name, a certificate from another CA — each get their own sentence.
 */
public final class Unreachable {
    private Unreachable() {}

    /** The reason {@code s} (a failed call to {@code node}) gives, without the node's name (callers prefix it). */
    public static String why(Node node, Status s) {
        for (Throwable c = s.getCause(); c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = c.getMessage() == null ? "" : c.getMessage();
            String lower = m.toLowerCase(Locale.ROOT);
            if ((c instanceof SSLException || c instanceof CertificateException)
                    && (lower.contains("subject alternative") || lower.contains("no name matching"))) {
                return "the agent's certificate does not name '" + node.name() + "' (an agent's certificate must carry"
                        + " its inventory name): reissue it with `pinfleet certs issue " + node.name() + " --role agent`"
                        + " and restart the agent";
            }
            if (c instanceof CertificateException || lower.contains("unable to find valid certification path")
                    || lower.contains("certificate_unknown") || lower.contains("bad_certificate")) {
                return "TLS handshake failed (" + firstLine(m) + "): the agent and the controller must both hold "
                        + "certificates of the same fleet CA (agent key tls-ca, pinfleet --tls-dir)";
            }
            if (c instanceof UnknownHostException || c instanceof UnresolvedAddressException) {
                return "unknown host in " + node.address() + ": check ansible_host in the inventory";
            }
            if (c instanceof ConnectException || c instanceof NoRouteToHostException) {
                return "nothing answers at " + node.address() + " (" + firstLine(m).replaceFirst("^.*: ", "")
                        + "): is pinfleet-agent running there, on the port the inventory gives (pinfleet_agent_port)?";
            }
        }
        if (s.getCode() == Status.Code.DEADLINE_EXCEEDED) {
            return "no answer from " + node.address() + " in time: the agent is stuck or the network drops packets";
        }
        String d = s.getDescription();
        if (d == null || d.isBlank() || d.startsWith("io exception")) {
            Throwable root = s.getCause();
            while (root != null && root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            d = root != null && root.getMessage() != null ? root.getMessage() : s.getCode().name().toLowerCase(Locale.ROOT)
                    .replace('_', ' ');
        }
        return firstLine(d);
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}

package dev.pinfleet.agent.hooks;

import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;

/** Checks a manifest's post_switch_hook and health_check fields; the message names the field and why. */
public final class HookSpec {
    private HookSpec() {}

    /** Null when the hook and health check (if any) are valid, else what is wrong with which field. */
    public static String check(Manifest m) {
        if (m.hasPostSwitchHook()) {
            String why = command(m.getPostSwitchHook(), true);
            if (why != null) {
                return "manifest field post_switch_hook: " + why;
            }
        }
        if (m.hasHealthCheck()) {
            String why = health(m.getHealthCheck());
            if (why != null) {
                return "manifest field health_check: " + why;
            }
        }
        return null;
    }

    private static String command(HookCommand c, boolean ownTimeout) {
        if (c.getArgvCount() < 1 || c.getArgvCount() > 64) {
            return "argv must have 1..64 entries, has " + c.getArgvCount();
        }
        for (int i = 0; i < c.getArgvCount(); i++) {
            String a = c.getArgv(i);
            if (a.isEmpty() || a.length() > 4096 || a.indexOf('\0') >= 0) {
                return "argv[" + i + "] must be 1..4096 characters without NUL";
            }
        }
        if (c.getArgv(0).startsWith("../") || c.getArgv(0).contains("/../")) {
            return "argv[0] '" + c.getArgv(0) + "' must not leave the release directory with '..'";
        }
        if (ownTimeout && (c.getTimeoutSeconds() < 1 || c.getTimeoutSeconds() > 3600)) {
            return "timeout_seconds must be 1..3600, got " + c.getTimeoutSeconds();
        }
        return null;
    }

    private static String health(HealthCheck h) {
        boolean url = !h.getHttpUrl().isEmpty();
        if (url == h.hasCommand()) {
            return "exactly one of http_url and command must be set";
        }
        if (h.getTimeoutSeconds() < 1 || h.getTimeoutSeconds() > 600) {
            return "timeout_seconds must be 1..600, got " + h.getTimeoutSeconds();
        }
        if (h.getRetries() < 0 || h.getRetries() > 100) {
            return "retries must be 0..100, got " + h.getRetries();
        }
        if (h.getIntervalMs() < 0 || h.getIntervalMs() > 600_000) {
            return "interval_ms must be 0..600000, got " + h.getIntervalMs();
        }
        if (h.hasCommand()) {
            String why = command(h.getCommand(), false);
            return why == null ? null : "command: " + why;
        }
        URI u;
        try {
            u = URI.create(h.getHttpUrl());
        } catch (IllegalArgumentException e) {
            return "http_url '" + h.getHttpUrl() + "' is not a URL: " + e.getMessage();
        }
        if (!"http".equals(u.getScheme()) || u.getHost() == null) {
            return "http_url '" + h.getHttpUrl() + "' must be http://LOOPBACK:PORT/PATH";
        }
        if (!isLoopback(u.getHost())) {
            return "http_url '" + h.getHttpUrl() + "' must name a loopback address (127.0.0.1, [::1] or localhost),"
                    + " not " + u.getHost();
        }
        return null;
    }

    static boolean isLoopback(String host) {
        if (host.equals("localhost")) {
            return true;
        }
        String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
        if (!h.matches("[0-9.]+|[0-9a-fA-F:]+")) {
            return false; // never resolve a name here
        }
        try {
            return InetAddress.getByName(h).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}

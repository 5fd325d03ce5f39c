package dev.pinfleet.agent.hooks;

import dev.pinfleet.agent.fetch.Sleeper;
import dev.pinfleet.proto.v1.CheckResult;
import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import dev.pinfleet.proto.v1.Manifest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What runs after `current` was switched: the manifest's hook, then its health check with retries. Each run is
 * handed to a listener as it finishes (the deploy streams it and puts it in the report).
 */
public final class PostSwitch {
    private final CommandRunner runner;
    private final Sleeper sleeper;
    private final Clock clock;
    /** Made at the first HTTP health check: a client holds a selector thread, which most nodes never need. */
    private HttpClient http;

    public PostSwitch(Clock clock, Sleeper sleeper) {
        this.clock = clock;
        this.sleeper = sleeper;
        this.runner = new CommandRunner(clock);
    }

    private synchronized HttpClient http() {
        if (http == null) {
            http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                    .followRedirects(HttpClient.Redirect.NEVER).proxy(HttpClient.Builder.NO_PROXY).build();
        }
        return http;
    }

    /** Where a release runs its commands and what they are told about it. */
    public record Target(String node, String app, String release, Path dir) {
        Map<String, String> env() {
            return Map.of("PINFLEET_NODE", node, "PINFLEET_APP", app, "PINFLEET_RELEASE", release,
                    "PINFLEET_RELEASE_DIR", dir.toString());
        }
    }

    /** Runs the hook (kind "hook" or "hook-after-revert"); null when the manifest has none. */
    public CheckResult hook(String kind, Manifest m, Target t, Consumer<CheckResult> onCheck)
            throws InterruptedException {
        if (!m.hasPostSwitchHook()) {
            return null;
        }
        HookCommand c = m.getPostSwitchHook();
        CheckResult r = runner.run(kind, c.getArgvList(), t.dir(), Duration.ofSeconds(c.getTimeoutSeconds()), t.env());
        onCheck.accept(r);
        return r;
    }

    /**
     * Runs the health check until one attempt passes or {@code 1 + retries} attempts failed; returns the last
     * attempt (null when the manifest has no health check).
     */
    public CheckResult health(Manifest m, Target t, Consumer<CheckResult> onCheck, Consumer<String> onAttempt)
            throws InterruptedException {
        if (!m.hasHealthCheck()) {
            return null;
        }
        HealthCheck h = m.getHealthCheck();
        int attempts = 1 + h.getRetries();
        CheckResult last = null;
        for (int i = 1; i <= attempts; i++) {
            onAttempt.accept("health attempt " + i + " of " + attempts);
            last = once(h, t).toBuilder().setAttempt(i).build();
            onCheck.accept(last);
            if (last.getOk()) {
                return last;
            }
            if (i < attempts) {
                sleeper.sleep(Duration.ofMillis(h.getIntervalMs()));
            }
        }
        return last;
    }

    private CheckResult once(HealthCheck h, Target t) throws InterruptedException {
        Duration timeout = Duration.ofSeconds(h.getTimeoutSeconds());
        if (h.hasCommand()) {
            return runner.run("health", h.getCommand().getArgvList(), t.dir(), timeout, t.env());
        }
        long start = clock.millis();
        CheckResult.Builder r = CheckResult.newBuilder().setKind("health").setTarget(h.getHttpUrl());
        try {
            HttpResponse<String> resp = http().send(HttpRequest.newBuilder(URI.create(h.getHttpUrl())).timeout(timeout)
                    .GET().build(), HttpResponse.BodyHandlers.ofString());
            boolean ok = resp.statusCode() >= 200 && resp.statusCode() < 300;
            return r.setOk(ok).setCode(resp.statusCode()).setOutput(CommandRunner.limit(resp.body()))
                    .setMillis(clock.millis() - start).build();
        } catch (IOException e) {
            return r.setOk(false).setCode(0).setOutput(CommandRunner.limit("GET " + h.getHttpUrl() + ": "
                    + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage())))
                    .setMillis(clock.millis() - start).build();
        }
    }

    /** One line for a failed run: what ran, its code and the start of its output. */
    public static String describe(CheckResult r) {
        String out = r.getOutput().strip();
        int nl = out.indexOf('\n');
        String first = out.isEmpty() ? "" : ": " + (nl < 0 ? out : out.substring(0, nl) + " …");
        String code = r.getTarget().startsWith("http") ? "HTTP " + r.getCode() : "exit " + r.getCode();
        return r.getKind() + " '" + r.getTarget() + "' failed (" + (r.getCode() == -1 ? "killed or not started" : code)
                + (r.getAttempt() > 1 ? ", attempt " + r.getAttempt() : "") + ")" + first;
    }
}

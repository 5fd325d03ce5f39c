package dev.pinfleet.agent.metrics;

import dev.pinfleet.agent.deploy.DeployEngine;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.Outcome;
import java.util.Locale;

/**
 * Why a node deploy failed, as a bounded set of tag values for {@link AgentMetrics#DEPLOY_FAILURES}: the phase
 * it failed in and, where the agent's messages tell them apart, the cause inside that phase. Derived from the
 * {@link DeployReport} alone ({@code failed_phase} and the wording of {@code error}); a message this class
 * does not recognise falls into the phase's {@code …/other} value, never into a new tag value.
 */
public enum FailureReason {
    /** The deploy was aborted because the agent was shutting down. */
    ABORTED("aborted"),
    /** Too few valid signatures from trusted keys, an unsigned envelope or a wrong payload type. */
    VERIFY_SIGNATURE("verify/signature"),
    /** A replayed or stale serial. */
    VERIFY_SERIAL("verify/serial"),
    /** The manifest's expiry has passed. */
    VERIFY_EXPIRED("verify/expired"),
    /** The manifest is bound to another environment. */
    VERIFY_ENVIRONMENT("verify/environment"),
    /** The manifest targets another Python than the node's interpreter. */
    VERIFY_PYTHON("verify/python"),
    /** Any other verification failure: the signed payload is not a valid manifest. */
    VERIFY_MANIFEST("verify/manifest"),
    /** Planning failed (a local file system error). */
    PLAN("plan"),
    /** A mirror sent bytes that do not hash to the manifest's sha256. */
    FETCH_CHECKSUM("fetch/checksum"),
    /** A mirror sent more or fewer bytes than the manifest's size. */
    FETCH_SIZE("fetch/size"),
    /** No mirror has the file. */
    FETCH_NOT_FOUND("fetch/not-found"),
    /** No mirror could be reached or answered in time (refused, reset, timed out, HTTP 5xx/408/429). */
    FETCH_UNREACHABLE("fetch/unreachable"),
    /** Any other fetch failure (redirect refused, unexpected HTTP status, local store error). */
    FETCH_OTHER("fetch/other"),
    /** Building the release failed. */
    INSTALL("install"),
    /** Switching `current` or persisting state failed. */
    SWITCH("switch"),
    /** The post-switch hook failed; the agent switched back. */
    HOOK("hook"),
    /** The switched-to release was unhealthy; the agent switched back. */
    HEALTH("health"),
    /** A failure in a phase this class does not know. */
    OTHER("other");

    private final String tag;

    FailureReason(String tag) {
        this.tag = tag;
    }

    /** The tag value, e.g. {@code fetch/checksum}. */
    public String tag() {
        return tag;
    }

    /**
     * The reason of a report whose outcome is a failure ({@link Outcome#FAILED}, or a switch back after a
     * failed hook or health check); null for a report that did not fail.
     */
    public static FailureReason of(DeployReport r) {
        if (r.getOutcome() == Outcome.OK || r.getOutcome() == Outcome.UNCHANGED) {
            return null;
        }
        String e = r.getError();
        if (e.contains(DeployEngine.ABORTED)) {
            return ABORTED;
        }
        String phase = r.getFailedPhase().name().toLowerCase(Locale.ROOT);
        return switch (phase) {
            case "verify" -> verify(e);
            case "plan" -> PLAN;
            case "fetch" -> fetch(e);
            case "install" -> INSTALL;
            case "switch" -> SWITCH;
            case "hook" -> HOOK;
            case "health" -> HEALTH;
            default -> OTHER;
        };
    }

    private static FailureReason verify(String e) {
        if (e.contains("signature check failed") || e.contains("envelope is unsigned")
                || e.contains("envelope has ") || e.contains("envelope payload_type")) {
            return VERIFY_SIGNATURE;
        }
        if (e.contains("is not greater than the last applied serial")) {
            return VERIFY_SERIAL;
        }
        if (e.contains(" expired at ")) {
            return VERIFY_EXPIRED;
        }
        if (e.contains("is bound to environment")) {
            return VERIFY_ENVIRONMENT;
        }
        if (e.contains("manifest targets Python")) {
            return VERIFY_PYTHON;
        }
        return VERIFY_MANIFEST;
    }

    private static FailureReason fetch(String e) {
        if (e.contains("checksum mismatch")) {
            return FETCH_CHECKSUM;
        }
        if (e.contains("mirror announced ") || e.contains("mirror sent more than") || e.contains("body ended after ")
                || e.contains(" bytes with sha256 ")) {
            return FETCH_SIZE;
        }
        if (e.contains("not found on this mirror")) {
            return FETCH_NOT_FOUND;
        }
        if (e.contains("timed out") || e.contains("cannot connect to ") || e.contains("connection lost after ")
                || e.contains("request failed") || e.matches("(?s).*: HTTP (5\\d\\d|408|429) \\(.*")) {
            return FETCH_UNREACHABLE;
        }
        return FETCH_OTHER;
    }
}

package dev.pinfleet.agent.metrics;

import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.FailureReason;
import dev.pinfleet.proto.v1.Outcome;

/**
 * The {@value AgentMetrics#REASON_TAG} tag values of {@link AgentMetrics#DEPLOY_FAILURES}: a bounded, coarser
 * grouping of the typed {@link FailureReason} each report carries (several reasons share a value, e.g. every
 * install failure counts as {@code install}, a timeout and a refused connection as {@code fetch/unreachable}).
 * Dashboards and alerts rely on these values; a reason added to the wire contract maps onto one of them.
 */
public enum FailureLabel {
    /** The deploy was aborted because the agent was shutting down. */
    ABORTED("aborted"),
    /** A Cancel call stopped the deploy before its switch. */
    CANCELLED("cancelled"),
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
    /** The signed payload is not a valid manifest. */
    VERIFY_MANIFEST("verify/manifest"),
    /** Before fetching, the agent's root was unsafe or its files could not be read or written. */
    PLAN("plan"),
    /** A mirror sent bytes that do not hash to the manifest's sha256. */
    FETCH_CHECKSUM("fetch/checksum"),
    /** A mirror sent more or fewer bytes than the manifest's size. */
    FETCH_SIZE("fetch/size"),
    /** No mirror has the file. */
    FETCH_NOT_FOUND("fetch/not-found"),
    /** No mirror could be reached or answered in time (refused, reset, timed out, HTTP 5xx/408/429). */
    FETCH_UNREACHABLE("fetch/unreachable"),
    /** Any other fetch failure (redirect refused, another HTTP status, the node's own disk). */
    FETCH_OTHER("fetch/other"),
    /** Building the release failed. */
    INSTALL("install"),
    /** Switching `current` or persisting state failed. */
    SWITCH("switch"),
    /** The post-switch hook failed; the agent switched back. */
    HOOK("hook"),
    /** The switched-to release was unhealthy; the agent switched back. */
    HEALTH("health"),
    /** A report without a known reason, or an unexpected error in the agent. */
    OTHER("other");

    private final String tag;

    FailureLabel(String tag) {
        this.tag = tag;
    }

    /** The tag value, e.g. {@code fetch/checksum}. */
    public String tag() {
        return tag;
    }

    /**
     * The label of a report whose outcome is a failure ({@link Outcome#FAILED}, or a switch back after a failed
     * hook or health check); null for a report that did not fail.
     */
    public static FailureLabel of(DeployReport r) {
        if (r.getOutcome() == Outcome.OK || r.getOutcome() == Outcome.UNCHANGED) {
            return null;
        }
        return of(r.getReason());
    }

    /** The label a reason counts under. */
    public static FailureLabel of(FailureReason reason) {
        return switch (reason) {
            case REASON_ABORTED -> ABORTED;
            case REASON_CANCELLED -> CANCELLED;
            case REASON_VERIFY_SIGNATURE -> VERIFY_SIGNATURE;
            case REASON_VERIFY_SERIAL -> VERIFY_SERIAL;
            case REASON_VERIFY_EXPIRED -> VERIFY_EXPIRED;
            case REASON_VERIFY_ENVIRONMENT -> VERIFY_ENVIRONMENT;
            case REASON_VERIFY_PYTHON -> VERIFY_PYTHON;
            case REASON_VERIFY_MANIFEST -> VERIFY_MANIFEST;
            case REASON_PLAN_UNSAFE_ROOT, REASON_PLAN_LOCAL_IO -> PLAN;
            case REASON_FETCH_CHECKSUM -> FETCH_CHECKSUM;
            case REASON_FETCH_SIZE -> FETCH_SIZE;
            case REASON_FETCH_NOT_FOUND -> FETCH_NOT_FOUND;
            case REASON_FETCH_UNREACHABLE, REASON_FETCH_TIMEOUT, REASON_FETCH_UNAVAILABLE -> FETCH_UNREACHABLE;
            case REASON_FETCH_HTTP_STATUS, REASON_FETCH_REDIRECT, REASON_FETCH_LOCAL_IO -> FETCH_OTHER;
            case REASON_INSTALL_ARCHIVE, REASON_INSTALL_CONFLICT, REASON_INSTALL_LOCAL_IO, REASON_INSTALL_FAILED -> INSTALL;
            case REASON_SWITCH_FAILED -> SWITCH;
            case REASON_HOOK_FAILED -> HOOK;
            case REASON_HEALTH_FAILED -> HEALTH;
            case REASON_UNSPECIFIED, REASON_BUSY, REASON_INTERNAL, UNRECOGNIZED -> OTHER;
        };
    }
}

package dev.pinfleet.agent.deploy;

import java.util.List;

/**
 * <b>Test seam</b> for crash tests: stops this agent process as abruptly as {@code kill -9} (Runtime.halt: no
 * shutdown hook, no report, nothing flushed beyond what the code already wrote) at one named step of a deploy,
 * when the JVM runs with {@code -D}{@value #PROPERTY}{@code =POINT}. Without the property (production) every
 * {@link #reach} is a no-op. A crash test starts a real agent process with the property, deploys, sees the process
 * die at exactly that step, restarts it on the same root without the property and checks what recovery made of it.
 */
public final class HaltPoint {
    /** The system property naming the point to halt at. */
    public static final String PROPERTY = "pinfleet.fault.haltAt";
    /** The build returned: the release's completion marker is written and flushed, but it is still {@code .staging-ID}. */
    public static final String AFTER_BUILD = "after-build";
    /** The release is renamed into {@code releases/ID}; the state does not record its serial yet. */
    public static final String AFTER_RELEASE = "after-release";
    /** The state records the new serial and release; `current` still points at the old release. */
    public static final String BEFORE_SWITCH = "before-switch";
    /** `current` points at the new release; hook, health check, garbage collection and final state not yet done. */
    public static final String AFTER_SWITCH = "after-switch";
    /** The background deletion of trashed releases has deleted its first file. */
    public static final String DURING_TRASH = "during-trash";
    /** Every point, in the order a deploy reaches them. */
    public static final List<String> POINTS = List.of(AFTER_BUILD, AFTER_RELEASE, BEFORE_SWITCH, AFTER_SWITCH,
            DURING_TRASH);
    /** The exit status of a halted agent (what a shell reports for a process killed by signal 9). */
    public static final int EXIT_STATUS = 137;

    private final String point;

    private HaltPoint(String point) {
        this.point = point;
    }

    /** Never halts. */
    public static HaltPoint none() {
        return new HaltPoint("");
    }

    /**
     * The point named by {@value #PROPERTY}, or {@link #none()} when it is unset.
     *
     * @throws IllegalArgumentException for a name not in {@link #POINTS}
     */
    public static HaltPoint fromSystemProperties() {
        String p = System.getProperty(PROPERTY, "");
        if (!p.isEmpty() && !POINTS.contains(p)) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + p + " names no halt point (known: " + POINTS + ")");
        }
        return new HaltPoint(p);
    }

    /** Halts the process when {@code here} is the configured point. */
    public void reach(String here) {
        if (!point.isEmpty() && point.equals(here)) {
            System.err.println("pinfleet-agent: halting at " + PROPERTY + "=" + here + " (test seam)");
            System.err.flush();
            Runtime.getRuntime().halt(EXIT_STATUS);
        }
    }
}

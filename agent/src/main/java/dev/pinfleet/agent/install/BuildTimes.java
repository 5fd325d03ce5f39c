package dev.pinfleet.agent.install;

/**
 * Where one release build's time went, for the agent's log (and the bench, which prints that line): wall time per
 * step of {@link ReleaseBuilder} and a few counts. Kept apart from the build so that the build reads as its steps.
 * Used by the building thread only.
 */
final class BuildTimes {
    /** The steps of a build, in the order the log line names them. */
    enum Step {
        VENV("venv"), WAIT_UNPACK("waiting for unpacks"), PLAN("plan"), MKDIR("mkdir"), LINK("link"),
        FINISH("scripts+RECORD"), OTHER("archives+bytecode+marker"), SYNC("sync");

        private final String label;

        Step(String label) {
            this.label = label;
        }
    }

    private final long start = System.nanoTime();
    private final long[] nanos = new long[Step.values().length];
    int wheels;
    int unpacked;
    long unpackedBytes;
    int files;
    int dirs;

    /** Now, to pass to {@link #add} when the step is done. */
    static long mark() {
        return System.nanoTime();
    }

    /** Adds the time since {@code mark} to {@code step}. */
    void add(Step step, long mark) {
        nanos[step.ordinal()] += System.nanoTime() - mark;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(256).append(wheels).append(" wheels (").append(unpacked)
                .append(" unpacked now, ").append(unpackedBytes >> 20).append(" MB), ").append(files)
                .append(" files linked, ").append(dirs).append(" directories; ms: ");
        for (Step s : Step.values()) {
            b.append(s.label).append(' ').append(nanos[s.ordinal()] / 1_000_000).append(", ");
        }
        return b.append("total ").append((System.nanoTime() - start) / 1_000_000).toString();
    }
}

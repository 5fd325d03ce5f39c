package dev.pinfleet.controller.rollout;

import dev.pinfleet.controller.CliException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * How a rollout proceeds: {@code canary} nodes first, alone; then the rest in batches of {@code batch} ("N" nodes
 * or "P%" of the targeted nodes); at most {@code forks} nodes at once. {@code maxFailures} ("N" or "P%") is the
 * failure budget of the whole fleet: once more nodes than that failed (failed, unreachable, stuck or reverted), no
 * new node starts. A node gets {@code nodeDeadline} in total and counts as stuck after {@code stuckTimeout}
 * without an event.
 */
public record Strategy(int canary, String batch, String maxFailures, boolean pauseAfterCanary, Duration nodeDeadline,
        Duration stuckTimeout, int forks) {

    public Strategy {
        if (canary < 0) {
            throw new CliException("--canary must be 0 or more, got " + canary);
        }
        if (forks < 1) {
            throw new CliException("--forks must be at least 1, got " + forks);
        }
        if (nodeDeadline.isNegative() || nodeDeadline.isZero() || stuckTimeout.isNegative() || stuckTimeout.isZero()) {
            throw new CliException("--node-timeout and --stuck-timeout must be positive");
        }
        count("--batch", batch, 100, 1);
        count("--max-failures", maxFailures, 100, 0);
    }

    /** As the record and the API write it; {@code budget} is the failure budget in nodes for the targets. */
    public dev.pinfleet.proto.v1.Strategy toProto(int budget) {
        return dev.pinfleet.proto.v1.Strategy.newBuilder().setCanary(canary).setBatch(batch).setMaxFailures(maxFailures)
                .setMaxFailuresNodes(budget).setStuckSeconds((int) stuckTimeout.toSeconds())
                .setNodeDeadlineSeconds((int) nodeDeadline.toSeconds()).setForks(forks)
                .setPauseAfterCanary(pauseAfterCanary).build();
    }

    /** From the API's form, validated like the CLI's options (the message names the option). */
    public static Strategy fromProto(dev.pinfleet.proto.v1.Strategy s) {
        return new Strategy(s.getCanary(), s.getBatch(), s.getMaxFailures(), s.getPauseAfterCanary(),
                Duration.ofSeconds(s.getNodeDeadlineSeconds()), Duration.ofSeconds(s.getStuckSeconds()), s.getForks());
    }

    /** The waves for {@code n} targeted nodes: wave 0 the canary (may be empty), then the batches. */
    public <T> List<List<T>> waves(List<T> nodes) {
        List<List<T>> out = new ArrayList<>();
        int c = Math.min(canary, nodes.size());
        out.add(List.copyOf(nodes.subList(0, c)));
        int size = Math.max(1, count("--batch", batch, nodes.size(), 1));
        for (int i = c; i < nodes.size(); i += size) {
            out.add(List.copyOf(nodes.subList(i, Math.min(nodes.size(), i + size))));
        }
        return out;
    }

    /** The failure budget in nodes for {@code n} targeted nodes (a percentage rounds down). */
    public int budget(int n) {
        return count("--max-failures", maxFailures, n, 0);
    }

    /** "N" or "P%" of {@code total}: percentages of a batch round up, of a budget down. */
    static int count(String option, String spec, int total, int min) {
        String s = spec.strip();
        try {
            if (s.endsWith("%")) {
                double p = Double.parseDouble(s.substring(0, s.length() - 1));
                if (p < 0 || p > 100) {
                    throw new NumberFormatException();
                }
                double v = p * total / 100.0;
                return min == 1 ? Math.max(1, (int) Math.ceil(v)) : (int) Math.floor(v + 1e-9);
            }
            int n = Integer.parseInt(s);
            if (n < min) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new CliException(option + " '" + spec + "' is not a whole number (at least " + min + ") or a percentage 0-100%");
        }
    }
}

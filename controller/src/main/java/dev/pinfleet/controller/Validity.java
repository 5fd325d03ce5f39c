package dev.pinfleet.controller;

import java.time.Duration;

/** How long a newly signed or frozen manifest stays valid: {@code --expires-in Nd|Nh|Nm} of freeze and redeploy. */
public final class Validity {
    /** The default of {@code --expires-in}: a week. */
    public static final String DEFAULT = "7d";

    private Validity() {}

    /** {@code s} as a duration; a {@link CliException} (usage, exit 2) naming the option when it is not Nd, Nh or Nm. */
    public static Duration parse(String s) {
        if (s.matches("[0-9]{1,6}[dhm]")) {
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            if (n > 0) {
                return switch (s.charAt(s.length() - 1)) {
                    case 'd' -> Duration.ofDays(n);
                    case 'h' -> Duration.ofHours(n);
                    default -> Duration.ofMinutes(n);
                };
            }
        }
        throw new CliException("--expires-in '" + s + "' is not Nd, Nh or Nm (a whole number above 0 of days, hours"
                + " or minutes)", 2);
    }
}

package dev.pinfleet.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Assertions on the text of an error: every refusal must name what, where and why. */
public final class Messages {
    private Messages() {}

    /** Asserts that {@code message} contains every one of {@code parts}, showing the whole message otherwise. */
    public static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + message + "' should contain '" + p + "'");
        }
    }
}

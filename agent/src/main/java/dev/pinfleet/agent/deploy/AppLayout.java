package dev.pinfleet.agent.deploy;

import java.nio.file.Path;

/** Where one app's releases, `current` link and state live under the agent root. */
public record AppLayout(Path dir) {
    public static AppLayout of(Path root, String app) {
        return new AppLayout(root.resolve("apps").resolve(app));
    }

    public Path releases() {
        return dir.resolve("releases");
    }

    public Path release(String id) {
        return releases().resolve(id);
    }

    /** A release is built here, then renamed to {@link #release}: a directory named by id is always complete. */
    public Path staging(String id) {
        return releases().resolve(".staging-" + id);
    }

    public Path current() {
        return dir.resolve("current");
    }

    public Path state() {
        return dir.resolve("state.json");
    }
}

package dev.pinfleet.controller.config;

import dev.pinfleet.proto.v1.HealthCheck;
import dev.pinfleet.proto.v1.HookCommand;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * One application in {@code pinfleet.yml}: what {@code freeze} builds its manifest from, and the settings that apply
 * when a command works on this app (its rollout defaults {@code canary}, {@code batch}, {@code max-failures}, its
 * {@code python}, {@code environment}, {@code expires-in}, …).
 *
 * @param name         the app
 * @param settings     settings by key, as in {@link ConfigFile#settings()}
 * @param requirements its pinned requirements file (absolute), or null
 * @param archives     its code archives, in file order
 * @param hook         the post-switch hook, or null
 * @param health       the health check, or null
 */
public record AppSpec(String name, Map<String, ConfigFile.Value> settings, Path requirements, List<Archive> archives,
        HookCommand hook, HealthCheck health) {
    /**
     * One code archive: a directory (packed into a deterministic zip) or a {@code .zip}, published to the mirror and
     * pinned by sha256 like any wheel, extracted by the agents to {@code installPath} inside the release.
     *
     * @param name        label of the artifact (letters, digits, '.', '_'); default from the install path
     * @param path        the directory or zip (absolute)
     * @param installPath relative path inside the release
     * @param line        where the entry starts in the file
     */
    public record Archive(String name, Path path, String installPath, int line) {}
}

package dev.pinfleet.controller.freeze;

import java.util.List;

/**
 * One pinned requirement as read from a requirements file.
 *
 * @param name distribution name as written
 * @param version exact version after "=="
 * @param hashes sha256 hex values from --hash options (empty when none)
 * @param source "file:line" where it was written, for error messages
 */
public record Requirement(String name, String version, List<String> hashes, String source) {}

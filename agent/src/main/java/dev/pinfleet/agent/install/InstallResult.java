package dev.pinfleet.agent.install;

/**
 * How one artifact landed in a release.
 *
 * @param filename the artifact's file name as listed in the manifest
 * @param installMillis wall-clock milliseconds spent on this artifact: unpacking into the cache (when it was
 *     not cached yet) plus linking or copying it into the release
 * @param linked true when every file came from the cache by hard link; false when at least one was copied
 *     (e.g. the cache is on another file system) or the artifact is an ARCHIVE or FILE, which are always copied
 */
public record InstallResult(String filename, long installMillis, boolean linked) {}

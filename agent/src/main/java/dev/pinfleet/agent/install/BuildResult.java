package dev.pinfleet.agent.install;

import dev.pinfleet.proto.v1.SharedPath;
import java.util.List;

/**
 * What a release build did.
 *
 * @param artifacts one result per artifact, in manifest order
 * @param sharedPaths release paths several artifacts ship byte for byte the same (installed once), by path; empty
 *     when every path has one owner
 */
public record BuildResult(List<InstallResult> artifacts, List<SharedPath> sharedPaths) {}

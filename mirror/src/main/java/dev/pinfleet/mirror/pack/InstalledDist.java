package dev.pinfleet.mirror.pack;

import java.nio.file.Path;

/**
 * A distribution installed in a site-packages directory, as found by {@link WheelPacker#scan(Path)}.
 *
 * @param name     the {@code Name} from its METADATA, as written
 * @param version  the {@code Version} from its METADATA
 * @param distInfo its {@code <name>-<version>.dist-info} directory (absolute)
 */
public record InstalledDist(String name, String version, Path distInfo) {}

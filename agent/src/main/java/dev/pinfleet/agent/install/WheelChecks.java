package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import dev.pinfleet.wheel.WheelFilename;
import java.util.Locale;

/**
 * The identity checks a wheel must pass while it is opened for unpacking, before a single file of it is
 * written: its file name is a wheel's, its {@code .dist-info} directory and its METADATA Name and Version are
 * those of the distribution the file name names, and its {@code entry_points.txt} (when present) declares only
 * launcher names that are plain file names in {@code bin/}. A wheel refused here leaves nothing in the cache,
 * not even in its temporary directory.
 *
 * <p>These checks never refuse a wheel {@link WheelPlan} would accept: the build has already checked the file
 * name against the manifest's pin, and the plan repeats the comparison against the pin itself.
 */
final class WheelChecks {
    private WheelChecks() {}

    /**
     * Checks what {@code label} (the artifact's file name) says against the wheel's own metadata.
     *
     * @param distInfo the wheel's one {@code .dist-info} directory
     * @param name the METADATA Name
     * @param version the METADATA Version
     * @param entryPoints the bytes of {@code distInfo/entry_points.txt}, or null when the wheel has none
     * @throws InstallException naming the file, the entry and what differs
     */
    static void identity(String label, String distInfo, String name, String version, byte[] entryPoints)
            throws InstallException {
        WheelFilename wf;
        try {
            wf = WheelFilename.parse(label);
        } catch (IllegalArgumentException e) {
            throw InstallException.of(label, e.getMessage());
        }
        String stem = distInfo.substring(0, distInfo.length() - ".dist-info".length());
        String distInfoName = stem.contains("-") ? stem.substring(0, stem.lastIndexOf('-')) : stem;
        if (!Names.normalizeProject(distInfoName).equals(Names.normalizeProject(wf.distribution()))) {
            throw InstallException.entry(label, distInfo, "does not belong to distribution " + wf.distribution()
                    + " that the file name names");
        }
        if (!Names.normalizeProject(name).equals(Names.normalizeProject(wf.distribution()))
                || !underscored(version).equals(underscored(wf.version()))) {
            throw InstallException.entry(label, distInfo + "/METADATA", "names " + Names.printable(name) + " "
                    + Names.printable(version) + ", but the file name is for " + wf.distribution() + " "
                    + wf.version());
        }
        if (entryPoints != null) {
            EntryPoints.parse(entryPoints, label, distInfo + "/entry_points.txt");
        }
    }

    /** A version as a wheel file name spells it, for comparison: '-' as '_', case folded. */
    private static String underscored(String version) {
        return version.replace('-', '_').toLowerCase(Locale.ROOT);
    }
}

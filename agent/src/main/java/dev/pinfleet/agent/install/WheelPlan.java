package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.wheel.EntryPoints;
import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.WheelArchive;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where every file of one cached wheel goes in a release: the virtualenv's {@link InstallScheme} (the same
 * mapping freeze uses to list what a wheel installs), plus the per-release files: launchers for entry points,
 * INSTALLER and RECORD.
 *
 * @param placements by release-relative target path; a later placement for the same target replaced an earlier one
 */
record WheelPlan(Artifact artifact, WheelIndex index, Map<String, Placement> placements) {

    /** What to do for one target. */
    enum Kind { LINK, SCRIPT, LAUNCHER, INSTALLER, RECORD }

    /**
     * One file of the release.
     *
     * @param target path relative to the release root
     * @param source the cached file (LINK, SCRIPT), else null
     * @param script the entry point (LAUNCHER), else null
     */
    record Placement(String target, Kind kind, WheelIndex.FileEntry source, EntryPoints.Script script) {}

    /**
     * Checks the cached wheel against its manifest artifact and maps it into a release.
     *
     * @param reserved release paths the virtualenv skeleton owns; a wheel may not write there
     */
    static WheelPlan of(Artifact artifact, WheelIndex index, PythonInfo python, Set<String> reserved)
            throws InstallException, IOException {
        String label = artifact.getFilename();
        WheelFilename wf = WheelFilename.parse(label);
        if (!Names.normalizeProject(index.name()).equals(Names.normalizeProject(artifact.getName()))
                || !WheelArchive.sameVersion(index.version(), artifact.getVersion())) {
            throw InstallException.entry(label, index.distInfo() + "/METADATA", "names " + index.name() + " "
                    + index.version() + ", but the manifest pins " + artifact.getName() + " " + artifact.getVersion());
        }
        String why = WheelArchive.checkDistInfo(wf, index.distInfo());
        if (why != null) {
            throw InstallException.entry(label, index.distInfo(), why);
        }
        InstallScheme scheme = python.scheme();
        String dataDir = index.dataDir();
        Map<String, Placement> out = new LinkedHashMap<>();
        for (WheelIndex.FileEntry f : index.files()) {
            String target;
            try {
                target = scheme.target(dataDir, index.name(), index.purelib(), f.path());
            } catch (IllegalArgumentException e) {
                throw InstallException.entry(label, f.path(), e.getMessage());
            }
            checkNotReserved(label, f.path(), target, reserved);
            out.remove(target);
            out.put(target, new Placement(target, f.pythonScript() ? Kind.SCRIPT : Kind.LINK, f, null));
        }
        String entryPoints = index.distInfo() + "/entry_points.txt";
        for (WheelIndex.FileEntry f : index.files()) {
            if (f.path().equals(entryPoints)) {
                List<EntryPoints.Script> scripts;
                try {
                    scripts = EntryPoints.parse(Files.readAllBytes(index.file(f.path())));
                } catch (IllegalArgumentException e) {
                    throw InstallException.entry(label, entryPoints, e.getMessage());
                }
                for (EntryPoints.Script s : scripts) {
                    String target = scheme.script(s.name());
                    checkNotReserved(label, entryPoints, target, reserved);
                    out.remove(target);
                    out.put(target, new Placement(target, Kind.LAUNCHER, null, s));
                }
            }
        }
        String installer = scheme.distInfoFile(index.distInfo(), index.purelib(), "INSTALLER");
        String record = scheme.distInfoFile(index.distInfo(), index.purelib(), "RECORD");
        out.put(installer, new Placement(installer, Kind.INSTALLER, null, null));
        out.put(record, new Placement(record, Kind.RECORD, null, null));
        return new WheelPlan(artifact, index, out);
    }

    private static void checkNotReserved(String label, String entry, String target, Set<String> reserved)
            throws InstallException {
        String top = target.contains("/") ? target.substring(0, target.indexOf('/')) : target;
        if (reserved.contains(target) || reserved.contains(top)) {
            throw InstallException.entry(label, entry, "would overwrite the virtualenv's own '" + target + "'");
        }
    }
}

package dev.pinfleet.agent.install;

import dev.pinfleet.manifest.Names;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where every file of one cached wheel goes in a release, following the binary distribution format:
 * the root into site-packages (purelib and platlib are the same directory in a virtualenv),
 * {@code <name>.data/scripts} into {@code bin/}, {@code headers} into {@code include/site/pythonX.Y/<name>/},
 * {@code data} into the release root, {@code purelib}/{@code platlib} into site-packages; plus the
 * per-release files: launchers for entry points, INSTALLER and RECORD.
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
                || !sameVersion(index.version(), artifact.getVersion())) {
            throw InstallException.entry(label, index.distInfo() + "/METADATA", "names " + index.name() + " "
                    + index.version() + ", but the manifest pins " + artifact.getName() + " " + artifact.getVersion());
        }
        String stem = index.distInfo().substring(0, index.distInfo().length() - ".dist-info".length());
        String distInfoName = stem.contains("-") ? stem.substring(0, stem.lastIndexOf('-')) : stem;
        if (!Names.normalizeProject(distInfoName).equals(Names.normalizeProject(wf.distribution()))) {
            throw InstallException.entry(label, index.distInfo(), "does not belong to distribution " + wf.distribution());
        }
        String site = python.sitePackagesRelative();
        String headers = "include/site/python" + python.version() + "/" + index.name();
        String dataPrefix = index.dataDir() + "/";
        Map<String, Placement> out = new LinkedHashMap<>();
        for (WheelIndex.FileEntry f : index.files()) {
            String target;
            if (f.path().startsWith(dataPrefix)) {
                String rest = f.path().substring(dataPrefix.length());
                int slash = rest.indexOf('/');
                if (slash <= 0) {
                    throw InstallException.entry(label, f.path(), "lies directly in " + index.dataDir()
                            + "; files there must be in scripts/, headers/, data/, purelib/ or platlib/");
                }
                String sub = rest.substring(slash + 1);
                target = switch (rest.substring(0, slash)) {
                    case "purelib", "platlib" -> site + "/" + sub;
                    case "scripts" -> "bin/" + sub;
                    case "headers" -> headers + "/" + sub;
                    case "data" -> sub;
                    default -> throw InstallException.entry(label, f.path(), "unknown .data directory '"
                            + Names.printable(rest.substring(0, slash)) + "'");
                };
            } else {
                target = site + "/" + f.path();
            }
            checkNotReserved(label, f.path(), target, reserved);
            out.remove(target);
            out.put(target, new Placement(target, f.pythonScript() ? Kind.SCRIPT : Kind.LINK, f, null));
        }
        String entryPoints = index.distInfo() + "/entry_points.txt";
        for (WheelIndex.FileEntry f : index.files()) {
            if (f.path().equals(entryPoints)) {
                byte[] content = Files.readAllBytes(index.file(f.path()));
                for (EntryPoints.Script s : EntryPoints.parse(content, label, entryPoints)) {
                    String target = "bin/" + s.name();
                    checkNotReserved(label, entryPoints, target, reserved);
                    out.remove(target);
                    out.put(target, new Placement(target, Kind.LAUNCHER, null, s));
                }
            }
        }
        String installer = site + "/" + index.distInfo() + "/INSTALLER";
        String record = site + "/" + index.distInfo() + "/RECORD";
        out.put(installer, new Placement(installer, Kind.INSTALLER, null, null));
        out.put(record, new Placement(record, Kind.RECORD, null, null));
        return new WheelPlan(artifact, index, out);
    }

    /** The targets of this plan's placements, in order. */
    List<String> targets() {
        return new ArrayList<>(placements.keySet());
    }

    private static void checkNotReserved(String label, String entry, String target, Set<String> reserved)
            throws InstallException {
        String top = target.contains("/") ? target.substring(0, target.indexOf('/')) : target;
        if (reserved.contains(target) || reserved.contains(top)) {
            throw InstallException.entry(label, entry, "would overwrite the virtualenv's own '" + target + "'");
        }
    }

    private static boolean sameVersion(String a, String b) {
        return a.equalsIgnoreCase(b) || a.replace('-', '_').equalsIgnoreCase(b.replace('-', '_'));
    }
}

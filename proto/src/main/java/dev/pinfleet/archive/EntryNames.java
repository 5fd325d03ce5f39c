package dev.pinfleet.archive;

import dev.pinfleet.manifest.Names;

/** The one rule for names inside an archive (zip or tar entries, an artifact's install path). */
public final class EntryNames {
    private EntryNames() {}

    /**
     * Null when {@code name} is a safe relative path, otherwise why not: no backslash, NUL or control character,
     * not absolute, no drive letter, no empty, '.' or '..' component.
     */
    public static String check(String name) {
        if (name.indexOf('\\') >= 0) {
            return "path contains a backslash";
        }
        if (name.indexOf('\0') >= 0) {
            return "path contains a NUL character";
        }
        if (name.startsWith("/")) {
            return "path is absolute";
        }
        if (name.length() > 1 && name.charAt(1) == ':') {
            return "path has a drive letter";
        }
        for (String part : name.split("/", -1)) {
            if (part.equals("..")) {
                return "path has a '..' component";
            }
        }
        return Names.checkRelativePath(name);
    }
}

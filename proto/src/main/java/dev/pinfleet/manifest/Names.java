package dev.pinfleet.manifest;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Name rules both sides apply before a name from a manifest, a wheel or a URL becomes a path.
 * Every check returns a reason (null when fine) so callers can name the field in their error.
 */
public final class Names {
    private Names() {}

    private static final Pattern APP = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    private static final Pattern NORMALIZE = Pattern.compile("[-_.]+");

    /** PEP 503 normalized project name: runs of -, _ and . become one -, lowercased. */
    public static String normalizeProject(String name) {
        return NORMALIZE.matcher(name).replaceAll("-").toLowerCase(Locale.ROOT);
    }

    /** Wheel file-name form of a distribution name: runs of -, _ and . become _, lowercased. */
    public static String wheelEscape(String name) {
        return NORMALIZE.matcher(name).replaceAll("_").toLowerCase(Locale.ROOT);
    }

    public static String checkApp(String app) {
        if (app == null || !APP.matcher(app).matches()) {
            return "app name '" + printable(app) + "' must match [a-z0-9][a-z0-9._-]{0,63}";
        }
        return null;
    }

    /** A single path component: no separators, no NUL or control characters, not "." or "..". */
    public static String checkFileName(String name) {
        if (name == null || name.isEmpty()) {
            return "empty file name";
        }
        if (name.length() > 255) {
            return "file name longer than 255 characters";
        }
        if (name.equals(".") || name.equals("..")) {
            return "file name '" + name + "' is a directory reference";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == '\\') {
                return "file name '" + printable(name) + "' contains a path separator";
            }
            if (c < 0x20 || c == 0x7f) {
                return "file name '" + printable(name) + "' contains a control character";
            }
        }
        return null;
    }

    /**
     * A relative path of safe components separated by '/': not absolute, no empty, "." or ".."
     * components, no backslashes, NUL or control characters.
     */
    public static String checkRelativePath(String path) {
        if (path == null || path.isEmpty()) {
            return "empty path";
        }
        if (path.length() > 4096) {
            return "path longer than 4096 characters";
        }
        if (path.startsWith("/")) {
            return "path '" + printable(path) + "' is absolute";
        }
        for (String part : path.split("/", -1)) {
            if (part.isEmpty()) {
                return "path '" + printable(path) + "' has an empty component";
            }
            String why = checkFileName(part);
            if (why != null) {
                return "path '" + printable(path) + "': " + why;
            }
        }
        return null;
    }

    /** The string with control characters shown as \\uXXXX, for error messages. */
    public static String printable(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}

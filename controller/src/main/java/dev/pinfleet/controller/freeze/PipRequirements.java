package dev.pinfleet.controller.freeze;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * {@code freeze --format pip}: the frozen pins as a requirements file pip can install with hash checking,
 * {@code pip install --no-deps --require-hashes -r FILE}. Every line is {@code name[extras]==version} with the
 * {@code --hash=sha256:} of the exact file the manifest would name (pip then picks that file among the
 * mirror's wheels), markers already evaluated for the target, and an {@code --index-url} line pointing at
 * the mirror's simple index, so the file installs from the same mirror as is.
 */
public final class PipRequirements {
    private PipRequirements() {}

    /**
     * The file's text.
     *
     * @param indexUrl the mirror's simple index URL ({@code http://host/simple/} or {@code file:///dir/simple/})
     * @param header   comment lines (without '#') saying where the pins come from
     */
    public static String render(List<Freezer.Pinned> pins, String indexUrl, List<String> header) {
        StringBuilder b = new StringBuilder();
        for (String h : header) {
            b.append("# ").append(h).append('\n');
        }
        b.append("--index-url ").append(indexUrl).append('\n');
        for (Freezer.Pinned p : pins) {
            Set<String> x = p.requirement().extras();
            b.append(p.requirement().name());
            if (!x.isEmpty()) {
                b.append('[').append(String.join(",", x.stream().sorted().toList())).append(']');
            }
            b.append("==").append(p.version()).append(" \\\n    --hash=sha256:").append(p.file().sha256()).append('\n');
        }
        return b.toString();
    }

    /** The simple index URL of a mirror given as a directory or a base URL. */
    public static String indexUrl(String mirror) {
        if (mirror.startsWith("http://") || mirror.startsWith("https://")) {
            return (mirror.endsWith("/") ? mirror : mirror + "/") + "simple/";
        }
        String uri = Path.of(mirror).toAbsolutePath().normalize().toUri().toString();
        return (uri.endsWith("/") ? uri : uri + "/") + "simple/";
    }
}

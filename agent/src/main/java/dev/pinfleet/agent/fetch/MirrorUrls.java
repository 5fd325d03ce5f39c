package dev.pinfleet.agent.fetch;

import dev.pinfleet.manifest.Names;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** Builds the only URLs the fetcher requests: a mirror's base URL plus an artifact's validated relative path. */
final class MirrorUrls {
    private MirrorUrls() {}

    /**
     * Checks a configured mirror base URL (absolute http or https, a host, no user info, query or fragment) and
     * makes its path end with '/', so that resolving a relative path keeps the base path.
     */
    static URI base(URI mirror) {
        String scheme = mirror.getScheme() == null ? "" : mirror.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("mirror URL '" + mirror + "' must be http or https");
        }
        if (mirror.getHost() == null) {
            throw new IllegalArgumentException("mirror URL '" + mirror + "' has no host");
        }
        if (mirror.getRawUserInfo() != null || mirror.getRawQuery() != null || mirror.getRawFragment() != null) {
            throw new IllegalArgumentException("mirror URL '" + mirror + "' must not carry user info, query or fragment");
        }
        String path = mirror.getRawPath() == null || mirror.getRawPath().isEmpty() ? "/" : mirror.getRawPath();
        if (!path.endsWith("/")) {
            path = path + "/";
        }
        return URI.create(scheme + "://" + mirror.getRawAuthority() + path);
    }

    /**
     * The artifact's URL: {@code base} (from {@link #base}) followed by {@code relativePath} with every byte outside
     * RFC 3986's unreserved set percent-encoded per segment (so '+', '!', '%' and spaces in file names survive).
     *
     * @throws IllegalArgumentException when the path is not a safe relative path (the manifest validator refuses
     *                                  those first; this is a second lock)
     */
    static URI resolve(URI base, String relativePath) {
        String why = Names.checkRelativePath(relativePath);
        if (why != null) {
            throw new IllegalArgumentException("artifact " + why);
        }
        StringBuilder b = new StringBuilder(base.toString());
        for (byte x : relativePath.getBytes(StandardCharsets.UTF_8)) {
            int c = x & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
                b.append((char) c);
            } else {
                b.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return URI.create(b.toString());
    }
}

package dev.pinfleet.controller.freeze;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A requirement pinned to a git commit ({@code git+https://host/repo.git@<40-hex commit>#egg=name}) and how
 * the mirror serves it: pinfleet never clones at deploy time; the wheel built from that commit is published
 * under the project's name with the commit in its local version label, {@code +g<first 12 hex of the commit>}
 * (e.g. {@code mylib-1.4.0+g0123456789ab-py3-none-any.whl}; with setuptools-scm:
 * {@code SETUPTOOLS_SCM_PRETEND_VERSION=1.4.0+g$(git rev-parse --short=12 HEAD) python -m build --wheel}).
 * Exactly one version of the project may carry the label. A branch or tag name is refused: it can move between
 * freeze and deploy, the hole pip's {@code --exists-action=w} left open in the old deploy script.
 *
 * @param url    the URL as written, {@code git+...@commit} without the {@code #fragment}
 * @param commit the full commit id, 40 lowercase hex
 */
public record VcsPin(String url, String commit) {
    private static final Pattern COMMIT = Pattern.compile("[0-9a-fA-F]{40}");

    /** Hex digits of the commit in the local version label. */
    public static final int LABEL_HEX = 12;

    /** The local version label a wheel built from this commit carries: {@code g<first 12 hex>}. */
    public String localLabel() {
        return "g" + commit.substring(0, LABEL_HEX);
    }

    /**
     * Parses a {@code git+SCHEME://...@REF} URL (without fragment).
     *
     * @throws IllegalArgumentException when it is not a git URL, has no {@code @REF}, or REF is not a full
     *                                  40-hex commit id
     */
    public static VcsPin parse(String url) {
        String lower = url.toLowerCase(Locale.ROOT);
        for (String other : new String[] {"hg+", "svn+", "bzr+"}) {
            if (lower.startsWith(other)) {
                throw new IllegalArgumentException("'" + url + "': only git URLs can be pinned (" + other
                        + " is not supported); publish a wheel and pin its version");
            }
        }
        if (!lower.startsWith("git+") || !url.contains("://")) {
            throw new IllegalArgumentException("'" + url + "' is not a git+SCHEME://… URL");
        }
        int lastSlash = url.lastIndexOf('/');
        int at = url.lastIndexOf('@');
        if (at < lastSlash || at < 0) {
            throw new IllegalArgumentException("'" + url + "' names no commit: append @<40-hex commit>. Without one the "
                    + "deploy installs whatever the default branch holds that day (that is the seed's "
                    + "--exists-action=w hole, closed)");
        }
        String ref = url.substring(at + 1);
        if (!COMMIT.matcher(ref).matches()) {
            throw new IllegalArgumentException("'" + url + "': '" + ref + "' is a branch, tag or short id, not a 40-hex "
                    + "commit; a ref can move between freeze and deploy (that is the seed's --exists-action=w hole, "
                    + "closed): pin the full commit id");
        }
        return new VcsPin(url, ref.toLowerCase(Locale.ROOT));
    }
}

package dev.pinfleet.controller.freeze;

import java.util.List;
import java.util.Set;

/**
 * One pin as read from a requirements file, after its environment marker held for the target.
 *
 * @param name    distribution name as written
 * @param version exact version after "==", or null for a VCS pin (the mirror's wheel for the commit decides)
 * @param extras  requested extras, normalized ({@code name[a,b]==v}); the base distribution is pinned, the
 *                extras are recorded and count in {@code --check-deps}
 * @param hashes  sha256 hex values from --hash options (empty when none)
 * @param source  "file:line" where it was written, for error messages
 * @param vcs     the git URL and commit of a VCS pin, or null
 */
public record Requirement(String name, String version, Set<String> extras, List<String> hashes, String source,
        VcsPin vcs) {

    public Requirement {
        extras = Set.copyOf(extras);
        hashes = List.copyOf(hashes);
        if ((version == null) == (vcs == null)) {
            throw new IllegalArgumentException("a requirement has either a version or a VCS pin");
        }
    }

    /** How the pin was written, for messages: {@code name==version} or {@code name @ git+…@commit}. */
    public String describe() {
        return vcs == null ? name + "==" + version : name + " @ " + vcs.url();
    }
}

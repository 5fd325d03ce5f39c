package dev.pinfleet.mirror.policy;

import dev.pinfleet.fs.Durable;
import dev.pinfleet.fs.LineFile;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.MirrorLock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A mirror's upload policy: the text every uploader must read and sign off, {@code DIR/policy/POLICY.md},
 * and its version, the single line of {@code DIR/policy/version}. Changing the policy means editing the
 * text and writing a new version; from then on every uploader must acknowledge the new version (see
 * {@link Uploaders}) before publishing again.
 *
 * @param mirror  the mirror directory
 * @param version the current policy version ({@link #VERSION_PATTERN})
 */
public record UploadPolicy(Path mirror, String version) {
    /** Directory of the policy files, inside the mirror directory. */
    public static final String POLICY_DIR = "policy";
    /** The policy text, inside {@link #POLICY_DIR}. */
    public static final String POLICY_FILE = "POLICY.md";
    /** The current version, one line, inside {@link #POLICY_DIR}. */
    public static final String VERSION_FILE = "version";
    /** What a policy version looks like: a short token without spaces, e.g. {@code 1} or {@code 2024-05}. */
    public static final Pattern VERSION_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** The version {@link #init} writes. */
    public static final String INITIAL_VERSION = "1";

    /** The default policy text {@link #init} writes; operators replace it with their own. */
    public static final String DEFAULT_TEXT = """
            # Upload policy of this package mirror

            Everything published here can reach every production node. By acknowledging this policy
            (`pinfleet mirror acknowledge --mirror DIR --as YOU --policy-version VERSION`) you confirm that for
            every file you publish:

            1. You built it, or obtained it from its upstream project, yourself, and you can say from
               which source revision or upstream release it comes.
            2. Its license allows the company to run and redistribute it internally.
            3. It contains no secrets, credentials or personal data.
            4. Its name and version are the project's own: no private forks under an upstream name.
               A wheel built from a git commit carries the commit in its local version
               (`1.4.0+g<first 12 hex of the commit>`).
            5. You understand that publishing is append-only and audited: a file name, once published,
               never changes bytes, and `audit.log` records who published what, when, under which
               version of this policy.

            The policy's version is in `policy/version`. When this text changes, the version changes,
            and every uploader signs off the new version before publishing again.
            """;

    /** {@code DIR/policy/POLICY.md}. */
    public Path policyFile() {
        return policyFile(mirror);
    }

    /** {@code DIR/policy/POLICY.md} of a mirror directory. */
    public static Path policyFile(Path mirror) {
        return mirror.resolve(POLICY_DIR).resolve(POLICY_FILE);
    }

    /** {@code DIR/policy/version} of a mirror directory. */
    public static Path versionFile(Path mirror) {
        return mirror.resolve(POLICY_DIR).resolve(VERSION_FILE);
    }

    /**
     * Reads the current policy of {@code mirror}.
     *
     * @throws PolicyException when the mirror has no policy (not initialized), the version file is malformed,
     *                         or the policy text is missing; the message names the file and the fix
     * @throws IOException     when the files exist but cannot be read
     */
    public static UploadPolicy load(Path mirror) throws PolicyException, IOException {
        Path versionFile = versionFile(mirror);
        List<String> content;
        try {
            content = LineFile.read(versionFile).stream().map(LineFile.Line::text).toList();
        } catch (NoSuchFileException e) {
            throw new PolicyException("mirror " + mirror + " has no upload policy (" + versionFile
                    + " is missing), so nobody may publish to it; create one with: pinfleet mirror init --mirror " + mirror);
        }
        if (content.size() != 1 || !VERSION_PATTERN.matcher(content.get(0)).matches()) {
            throw new PolicyException(versionFile + " must hold exactly one policy version matching "
                    + VERSION_PATTERN.pattern() + " (found " + content.stream().map(Names::printable).toList() + ")");
        }
        if (!Files.isRegularFile(policyFile(mirror))) {
            throw new PolicyException("mirror " + mirror + " declares upload policy version " + content.get(0)
                    + " but its text " + policyFile(mirror) + " is missing; nobody can sign off a policy they cannot read");
        }
        return new UploadPolicy(mirror, content.get(0));
    }

    /**
     * Lays out a mirror directory: {@code packages/}, the (empty) static index under {@code simple/},
     * {@code policy/POLICY.md} (from {@code policyText}), {@code policy/version} ({@value #INITIAL_VERSION}),
     * and an {@code uploaders} file with no sign-offs yet. Files that exist are left untouched, so running it
     * on an existing mirror only adds what is missing.
     *
     * @param policyText the policy text to write when the mirror has none ({@link #DEFAULT_TEXT} when null)
     * @return the paths created, relative to {@code mirror}, in creation order (empty when nothing was missing)
     */
    public static List<String> init(Path mirror, String policyText) throws IOException {
        Files.createDirectories(mirror);
        List<String> created = new ArrayList<>();
        try (MirrorLock lock = MirrorLock.acquire(mirror)) {
            if (!Files.isDirectory(mirror.resolve(MirrorIndex.PACKAGES))) {
                Files.createDirectories(mirror.resolve(MirrorIndex.PACKAGES));
                created.add(MirrorIndex.PACKAGES + "/");
            }
            Files.createDirectories(mirror.resolve(POLICY_DIR));
            if (writeIfAbsent(policyFile(mirror), policyText == null ? DEFAULT_TEXT : policyText)) {
                created.add(POLICY_DIR + "/" + POLICY_FILE);
            }
            if (writeIfAbsent(versionFile(mirror), INITIAL_VERSION + "\n")) {
                created.add(POLICY_DIR + "/" + VERSION_FILE);
            }
            if (writeIfAbsent(Uploaders.file(mirror), Uploaders.HEADER)) {
                created.add(Uploaders.FILE_NAME);
            }
            boolean hadIndex = Files.isRegularFile(mirror.resolve(MirrorIndex.SIMPLE).resolve(MirrorIndex.INDEX_HTML));
            new MirrorIndex(mirror).rebuild();
            if (!hadIndex) {
                created.add(MirrorIndex.SIMPLE + "/" + MirrorIndex.INDEX_HTML);
            }
        }
        return created;
    }

    private static boolean writeIfAbsent(Path file, String text) throws IOException {
        if (Files.exists(file)) {
            return false;
        }
        Durable.writeIfChanged(file, text.getBytes(StandardCharsets.UTF_8));
        return true;
    }
}

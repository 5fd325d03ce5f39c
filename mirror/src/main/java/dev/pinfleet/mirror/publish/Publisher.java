package dev.pinfleet.mirror.publish;

import dev.pinfleet.fs.Durable;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.MirrorLock;
import dev.pinfleet.mirror.policy.PolicyException;
import dev.pinfleet.mirror.policy.SignOff;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Publishes wheels into a mirror directory, append-only: a file name, once published, never changes bytes.
 * An application's code archive ({@code NAME-VERSION.zip}, an ARCHIVE artifact) is published the same way, checked
 * by {@link ArchiveValidator} instead of {@link WheelValidator}.
 *
 * <p>Each file is first copied (hashing as it goes) to a temporary file in {@code DIR/.staging/} (a
 * dot-directory: never indexed or served), and that copy, not the caller's file, is validated by
 * {@link WheelValidator} and renamed to its destination {@code packages/<normalized project>/<filename>}, so
 * the bytes checked, hashed and published are the same bytes. A refused file leaves nothing behind, not even
 * an empty project directory.
 * Then, holding the mirror's {@link MirrorLock}: a name already present with the same sha256 is a no-op
 * ({@link PublishResult.Outcome#UNCHANGED}); with other bytes the request is refused
 * ({@link PublishException.Reason#CONFLICT}, naming the file and both digests); otherwise the copy is
 * renamed into place atomically, the directory synced, a line appended to {@code audit.log}, and finally
 * the static index rebuilt once for the whole batch.
 *
 * <p>A batch is all-or-nothing for refusals: every file is validated and every name checked for conflicts
 * before any is placed. A wheel refused for its content (the checks every agent applies) is recorded in
 * {@code audit.log} as a refusal, with why, who offered it and its sha256; nothing is placed for it. Who may publish is decided by an {@link Authorization}, asked once before any bytes
 * are copied and again under the writer lock (so a policy change between the two is honoured); the policy
 * version it returns is recorded in each audit line. {@link #publishSignedOff} uses the mirror's sign-off
 * policy ({@link SignOff}); the variants taking a version string record that version without a check.
 */
public final class Publisher {
    private static final Logger LOG = Logger.getLogger(Publisher.class.getName());

    /** Where files are copied and validated before they are placed, inside the mirror directory. */
    public static final String STAGING = ".staging";

    private final Clock clock;

    /** A publisher stamping audit lines with {@code clock}. */
    public Publisher(Clock clock) {
        this.clock = clock;
    }

    /** A publisher on the system UTC clock. */
    public Publisher() {
        this(Clock.systemUTC());
    }

    /**
     * Publishes one wheel and rebuilds the index.
     *
     * @param dir           the mirror directory (created if missing)
     * @param file          the wheel to publish; its file name is the published name
     * @param user          who publishes, for the audit log
     * @param policyVersion the upload policy version in force, for the audit log (may be empty)
     * @throws PublishException when the wheel is invalid or the name is taken by other bytes
     * @throws IOException      when reading the file or writing the mirror fails
     */
    public PublishResult publish(Path dir, Path file, String user, String policyVersion)
            throws PublishException, IOException {
        return publishAll(dir, List.of(file), user, policyVersion).get(0);
    }

    /**
     * Publishes several wheels, then rebuilds the index once, recording {@code policyVersion} without checking
     * it. Results are in the order of {@code files}. Nothing is placed when any file is refused.
     */
    public List<PublishResult> publishAll(Path dir, List<Path> files, String user, String policyVersion)
            throws PublishException, IOException {
        if (policyVersion == null) {
            throw new IllegalArgumentException("policyVersion must not be null (use \"\" when there is none)");
        }
        return publishAll(dir, files, user, () -> policyVersion);
    }

    /**
     * Publishes several wheels when {@code user} has signed off the mirror's current upload policy
     * ({@link SignOff#require}); the audit lines record that version.
     *
     * @throws PublishException NOT_SIGNED_OFF when the user may not publish; INVALID or CONFLICT as usual
     */
    public List<PublishResult> publishSignedOff(Path dir, List<Path> files, String user)
            throws PublishException, IOException {
        return publishAll(dir, files, user, () -> requireSignOff(dir, user));
    }

    /**
     * Like {@link #publishSignedOff(Path, List, String)}, recording in each file's audit line where it came from
     * ({@code sources}: file to URL; files not in it get none).
     */
    public List<PublishResult> publishSignedOff(Path dir, List<Path> files, String user, Map<Path, String> sources)
            throws PublishException, IOException {
        return publishAll(dir, files, user, () -> requireSignOff(dir, user), sources);
    }

    /**
     * The policy version {@code user} has signed off on {@code dir} ({@link SignOff#require}).
     *
     * @throws PublishException NOT_SIGNED_OFF with the policy's message when the user may not publish
     */
    public static String requireSignOff(Path dir, String user) throws PublishException, IOException {
        try {
            return SignOff.require(dir, user);
        } catch (PolicyException e) {
            throw new PublishException(PublishException.Reason.NOT_SIGNED_OFF, "", e.getMessage(), e);
        }
    }

    /** Decides whether a publish may go ahead. */
    @FunctionalInterface
    public interface Authorization {
        /**
         * @return the upload policy version in force, for the audit log ("" when there is none)
         * @throws PublishException (NOT_SIGNED_OFF) to refuse
         */
        String policyVersion() throws PublishException, IOException;
    }

    /**
     * Publishes several wheels if {@code authorization} allows it (asked before staging and again under the
     * writer lock), then rebuilds the index once. Results are in the order of {@code files}. Nothing is placed
     * when any file is refused.
     */
    public List<PublishResult> publishAll(Path dir, List<Path> files, String user, Authorization authorization)
            throws PublishException, IOException {
        return publishAll(dir, files, user, authorization, Map.of());
    }

    private List<PublishResult> publishAll(Path dir, List<Path> files, String user, Authorization authorization,
            Map<Path, String> sources) throws PublishException, IOException {
        checkUser(user);
        String policyAsked = authorization.policyVersion();
        Files.createDirectories(dir);
        List<Staged> staged = new ArrayList<>();
        try {
            Set<String> names = new HashSet<>();
            for (Path f : files) {
                Staged s = stage(dir, f, user, policyAsked, sources.getOrDefault(f, ""));
                staged.add(s);
                if (!names.add(s.relative())) {
                    throw new PublishException(PublishException.Reason.INVALID, s.fileName(),
                            s.fileName() + " appears twice in one publish request");
                }
            }
            MirrorLock lock = MirrorLock.acquire(dir);
            try {
                String policyVersion = authorization.policyVersion();
                List<PublishResult> results = new ArrayList<>();
                for (Staged s : staged) {
                    results.add(checkExisting(s));
                }
                for (int i = 0; i < staged.size(); i++) {
                    if (results.get(i).outcome() == PublishResult.Outcome.PUBLISHED) {
                        place(dir, staged.get(i), user, policyVersion);
                    }
                }
                new MirrorIndex(dir).rebuild();
                return results;
            } finally {
                lock.close();
            }
        } finally {
            for (Staged s : staged) {
                Files.deleteIfExists(s.tmp());
            }
        }
    }

    /** A validated copy waiting next to its destination. */
    private record Staged(String fileName, String relative, Path tmp, Path target, String sha256, long size,
            String source) {}

    /**
     * Copies {@code file} next to its destination and validates the copy; a wheel refused for its content gets an
     * audit line saying why ({@link AuditRecord#refused}), so the log shows who offered it.
     */
    private Staged stage(Path dir, Path file, String user, String policyVersion, String source)
            throws PublishException, IOException {
        if (file.getFileName() == null) {
            throw new IllegalArgumentException("'" + file + "' has no file name");
        }
        String fileName = file.getFileName().toString();
        String project = project(fileName);
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + " is not a regular file");
        }
        Path projectDir = dir.resolve(MirrorIndex.PACKAGES).resolve(project);
        Path staging = Files.createDirectories(dir.resolve(STAGING));
        Path tmp = Durable.createTemp(staging, fileName);
        boolean ok = false;
        try {
            MessageDigest md = Hashing.sha256();
            long size = 0;
            byte[] buf = new byte[1 << 16];
            try (InputStream in = Files.newInputStream(file);
                 FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                    ByteBuffer chunk = ByteBuffer.wrap(buf, 0, n);
                    while (chunk.hasRemaining()) {
                        out.write(chunk);
                    }
                    size += n;
                }
                out.force(true);
            }
            String relative = MirrorIndex.PACKAGES + "/" + project + "/" + fileName;
            String sha256 = Hashing.hex(md.digest());
            try {
                validate(tmp, fileName);
            } catch (PublishException e) {
                new AuditRecord(clock.instant().truncatedTo(ChronoUnit.MILLIS), user, relative, sha256, size,
                        policyVersion, e.getMessage(), source).appendTo(dir);
                LOG.info(() -> "refused " + relative + " sha256 " + sha256 + " from " + user + ": " + e.getMessage());
                throw e;
            }
            ok = true;
            return new Staged(fileName, relative, tmp, projectDir.resolve(fileName), sha256, size, source);
        } finally {
            if (!ok) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * The normalized project a file to publish belongs to: a wheel's distribution, or an application archive's
     * NAME ({@link ArchiveValidator#project}).
     *
     * @throws PublishException (INVALID) when the name is neither a wheel's nor an archive's
     */
    public static String project(String fileName) throws PublishException {
        return ArchiveValidator.isArchive(fileName) ? ArchiveValidator.project(fileName)
                : Names.normalizeProject(WheelValidator.parseName(fileName).distribution());
    }

    /**
     * Checks a file as the mirror checks it before publishing: a wheel by {@link WheelValidator}, an application
     * archive by {@link ArchiveValidator}.
     *
     * @throws PublishException (INVALID) naming the file, the entry and the rule
     */
    public static void validate(Path file, String fileName) throws PublishException {
        if (ArchiveValidator.isArchive(fileName)) {
            ArchiveValidator.validate(file, fileName);
        } else {
            WheelValidator.validate(file, fileName);
        }
    }

    private static PublishResult checkExisting(Staged s) throws PublishException, IOException {
        if (!Files.exists(s.target(), LinkOption.NOFOLLOW_LINKS)) {
            return new PublishResult(s.relative(), s.sha256(), s.size(), PublishResult.Outcome.PUBLISHED);
        }
        if (!Files.isRegularFile(s.target(), LinkOption.NOFOLLOW_LINKS)) {
            throw new PublishException(PublishException.Reason.CONFLICT, s.fileName(),
                    s.relative() + " exists in the mirror and is not a regular file; refusing to publish over it");
        }
        String existing = Hashing.sha256Hex(s.target());
        if (!existing.equals(s.sha256())) {
            throw new PublishException(PublishException.Reason.CONFLICT, s.fileName(),
                    s.relative() + " is already published with sha256 " + existing
                            + "; the new file has sha256 " + s.sha256()
                            + ". Published files never change: publish a new version instead");
        }
        LOG.info(() -> s.relative() + " is already published with the same bytes (sha256 " + existing
                + "); nothing to do");
        return new PublishResult(s.relative(), s.sha256(), s.size(), PublishResult.Outcome.UNCHANGED);
    }

    private void place(Path dir, Staged s, String user, String policyVersion) throws IOException {
        Path projectDir = s.target().getParent();
        boolean newProject = !Files.isDirectory(projectDir);
        Files.createDirectories(projectDir);
        Durable.rename(s.tmp(), s.target());
        if (newProject) {
            Durable.fsyncDirectory(projectDir.getParent());
        }
        AuditRecord audit = new AuditRecord(clock.instant().truncatedTo(ChronoUnit.MILLIS), user, s.relative(),
                s.sha256(), s.size(), policyVersion, "", s.source());
        try {
            audit.appendTo(dir);
        } catch (IOException e) {
            // every published file has an audit line: withdraw the file (not yet indexed, we hold the lock)
            Files.deleteIfExists(s.target());
            throw new IOException("cannot append to " + dir.resolve(AuditRecord.FILE_NAME) + " (" + e.getMessage()
                    + "); " + s.relative() + " was withdrawn", e);
        }
        LOG.info(() -> "published " + s.relative() + " sha256 " + s.sha256() + " by " + user);
    }

    private static void checkUser(String user) {
        if (user == null || user.isBlank()) {
            throw new IllegalArgumentException("a publish needs a user for the audit log");
        }
        if (!Names.printable(user).equals(user)) {
            throw new IllegalArgumentException("user '" + Names.printable(user) + "' contains control characters");
        }
    }
}

package dev.pinfleet.mirror.policy;

import dev.pinfleet.fs.LineFile;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.MirrorLock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The mirror's sign-off record, {@code DIR/uploaders}: one line per acknowledgement,
 * {@code USER POLICY-VERSION TIME} (white-space separated, TIME in RFC 3339 UTC), '#' comments and blank
 * lines ignored. Lines are only ever appended, so the file is also the history of who signed off which
 * version when. A user may publish when a line names them with the <em>current</em> policy version.
 */
public final class Uploaders {
    private Uploaders() {}

    /** The file's name in the mirror directory. */
    public static final String FILE_NAME = "uploaders";
    /** What a user name looks like: no white space or control characters, at most 64 characters. */
    public static final Pattern USER_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}");

    static final String HEADER = """
            # Who has signed off which version of this mirror's upload policy (policy/POLICY.md).
            # One line per acknowledgement: USER POLICY-VERSION TIME. Written by
            # 'pinfleet mirror acknowledge --mirror DIR --as USER --policy-version VERSION'; lines are only appended.
            """;

    /**
     * One acknowledgement.
     *
     * @param user          who signed off
     * @param policyVersion which policy version
     * @param time          when
     * @param line          its line number in the file (1-based)
     */
    public record Entry(String user, String policyVersion, Instant time, int line) {}

    /** {@code DIR/uploaders}. */
    public static Path file(Path mirror) {
        return mirror.resolve(FILE_NAME);
    }

    /** Null when {@code user} is an acceptable user name, else why not. */
    public static String checkUser(String user) {
        if (user == null || !USER_PATTERN.matcher(user).matches()) {
            return "user name '" + Names.printable(user) + "' must match " + USER_PATTERN.pattern();
        }
        return null;
    }

    /**
     * Every acknowledgement in {@code DIR/uploaders}, in file order; empty when the file does not exist.
     *
     * @throws PolicyException naming {@code file:line} when a line is malformed (the file is then not trusted
     *                         at all: a publish fails closed)
     */
    public static List<Entry> read(Path mirror) throws PolicyException, IOException {
        Path file = file(mirror);
        List<LineFile.Line> lines;
        try {
            lines = LineFile.read(file);
        } catch (NoSuchFileException e) {
            return List.of();
        }
        List<Entry> out = new ArrayList<>();
        for (LineFile.Line line : lines) {
            String[] f = line.fields();
            String where = line.where();
            if (f.length != 3) {
                throw new PolicyException(where + ": expected 'USER POLICY-VERSION TIME', found '"
                        + Names.printable(line.text()) + "'");
            }
            if (checkUser(f[0]) != null) {
                throw new PolicyException(where + ": " + checkUser(f[0]));
            }
            if (!UploadPolicy.VERSION_PATTERN.matcher(f[1]).matches()) {
                throw new PolicyException(where + ": policy version '" + Names.printable(f[1]) + "' must match "
                        + UploadPolicy.VERSION_PATTERN.pattern());
            }
            Instant t;
            try {
                t = Instant.parse(f[2]);
            } catch (DateTimeParseException e) {
                throw new PolicyException(where + ": time '" + Names.printable(f[2]) + "' is not RFC 3339 UTC");
            }
            out.add(new Entry(f[0], f[1], t, line.number()));
        }
        return out;
    }

    /** The latest acknowledgement by {@code user} of {@code version}, or null. */
    public static Entry find(List<Entry> entries, String user, String version) {
        Entry found = null;
        for (Entry e : entries) {
            if (e.user().equals(user) && e.policyVersion().equals(version)) {
                found = e;
            }
        }
        return found;
    }

    /** The latest acknowledgement by {@code user} of any version, or null. */
    public static Entry latest(List<Entry> entries, String user) {
        Entry found = null;
        for (Entry e : entries) {
            if (e.user().equals(user)) {
                found = e;
            }
        }
        return found;
    }

    /**
     * Records that {@code user} signed off {@code version}, which must be the mirror's current policy version:
     * appends one line (in one write, synced) under the mirror's writer lock.
     *
     * @return the new entry, or the existing one when {@code user} had already signed off this version
     * @throws PolicyException when the mirror has no policy, the version is not the current one, the user name
     *                         is unacceptable or the file is malformed
     */
    public static Entry acknowledge(Path mirror, String user, String version, Instant now)
            throws PolicyException, IOException {
        if (checkUser(user) != null) {
            throw new PolicyException(checkUser(user));
        }
        try (MirrorLock lock = MirrorLock.acquire(mirror)) {
            UploadPolicy policy = UploadPolicy.load(mirror);
            if (!policy.version().equals(version)) {
                throw new PolicyException("cannot acknowledge upload policy version '" + Names.printable(version)
                        + "' of mirror " + mirror + ": the current version is " + policy.version() + " ("
                        + policy.policyFile() + "); read that text, then acknowledge version " + policy.version());
            }
            List<Entry> entries = read(mirror);
            Entry existing = find(entries, user, version);
            if (existing != null) {
                return existing;
            }
            Instant t = now.truncatedTo(ChronoUnit.SECONDS);
            Path file = file(mirror);
            boolean fresh = !Files.exists(file);
            String text = (fresh ? HEADER : "") + user + " " + version + " " + t + "\n";
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND)) {
                if (!fresh && ch.size() > 0 && !endsWithNewline(file)) {
                    text = "\n" + text;
                }
                ByteBuffer buf = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(false);
            }
            List<Entry> after = read(mirror);
            return after.get(after.size() - 1);
        }
    }

    private static boolean endsWithNewline(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                return true;
            }
            ByteBuffer last = ByteBuffer.allocate(1);
            ch.read(last, size - 1);
            return last.get(0) == '\n';
        }
    }
}

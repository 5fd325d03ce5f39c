package dev.pinfleet.mirror.publish;

import com.google.protobuf.Timestamp;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.proto.v1.AuditEntry;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * One line of {@code DIR/audit.log}, a JSON object per published file, or per wheel refused for its content
 * ({@link AuditEntry} in {@code mirror.proto}, written by {@link ProtoJson}): {@code {"time": RFC 3339, "user",
 * "file": "packages/...", "sha256", "size", "policy"}}, plus {@code "refused": why} on a refusal.
 *
 * @param time    when the file was placed, or refused
 * @param user    who published it, or tried to
 * @param file    path relative to the mirror directory (where a refused wheel would have been placed)
 * @param sha256  lowercase hex SHA-256
 * @param size    size in bytes
 * @param policy  the version of the upload policy in force
 * @param refused why the wheel was refused, or "" for a published file
 * @param source  the URL the file was pulled from ({@code mirror pull}), or ""
 */
public record AuditRecord(Instant time, String user, String file, String sha256, long size, String policy,
        String refused, String source) {

    /** A line without a source. */
    public AuditRecord(Instant time, String user, String file, String sha256, long size, String policy, String refused) {
        this(time, user, file, sha256, size, policy, refused, "");
    }

    /** A publish line. */
    public AuditRecord(Instant time, String user, String file, String sha256, long size, String policy) {
        this(time, user, file, sha256, size, policy, "", "");
    }

    /** Whether this line records a refusal (nothing was placed), not a published file. */
    public boolean isRefusal() {
        return !refused.isEmpty();
    }

    /** The audit log's file name in the mirror directory. */
    public static final String FILE_NAME = "audit.log";

    /** The JSON line, newline-terminated. */
    public String toJsonLine() {
        return ProtoJson.line(toProto()) + "\n";
    }

    /** This record as the proto message its line is. */
    public AuditEntry toProto() {
        return AuditEntry.newBuilder()
                .setTime(Timestamp.newBuilder().setSeconds(time.getEpochSecond()).setNanos(time.getNano()))
                .setUser(user).setFile(file).setSha256(sha256).setSize(size).setPolicy(policy).setRefused(refused).setSource(source)
                .build();
    }

    /** Appends this line to {@code dir/audit.log} (created if missing) in one write, then syncs it. */
    public void appendTo(Path dir) throws IOException {
        ByteBuffer line = ByteBuffer.wrap(toJsonLine().getBytes(StandardCharsets.UTF_8));
        try (FileChannel ch = FileChannel.open(dir.resolve(FILE_NAME), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            while (line.hasRemaining()) {
                ch.write(line);
            }
            ch.force(false);
        }
    }
}

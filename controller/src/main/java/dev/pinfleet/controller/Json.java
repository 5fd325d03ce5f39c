package dev.pinfleet.controller;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.json.ProtoJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Proto messages as the CLI's JSON files (manifests, envelopes, reports): the project's one JSON form
 * ({@link ProtoJson}: proto field names, numbers as numbers), files written atomically, errors naming the file.
 */
public final class Json {
    private Json() {}

    public static <B extends Message.Builder> B read(Path file, B builder) {
        try {
            return ProtoJson.parse(Files.readString(file, StandardCharsets.UTF_8), builder);
        } catch (InvalidProtocolBufferException e) {
            throw new CliException(file + ": not a valid " + builder.getDescriptorForType().getName() + " JSON: "
                    + e.getMessage());
        } catch (IOException e) {
            throw new CliException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** Writes atomically and durably ({@link Durable#replace}), so readers never see half a file. */
    public static void writeAtomically(Path file, byte[] bytes) {
        try {
            Durable.replace(file, bytes);
        } catch (IOException e) {
            throw new CliException(file + ": cannot write: " + e.getMessage());
        }
    }

    public static void write(Path file, Message m) {
        writeAtomically(file, ProtoJson.pretty(m).getBytes(StandardCharsets.UTF_8));
    }
}

package dev.pinfleet.controller;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Proto messages as JSON files, written atomically. */
public final class Json {
    private Json() {}

    public static String print(Message m) {
        try {
            return JsonFormat.printer().print(m) + "\n";
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    public static <B extends Message.Builder> B read(Path file, B builder) {
        try {
            JsonFormat.parser().merge(Files.readString(file, StandardCharsets.UTF_8), builder);
            return builder;
        } catch (InvalidProtocolBufferException e) {
            throw new CliException(file + ": not a valid " + builder.getDescriptorForType().getName() + " JSON: "
                    + e.getMessage());
        } catch (IOException e) {
            throw new CliException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** Writes via a temporary file in the same directory and a rename, so readers never see half a file. */
    public static void writeAtomically(Path file, byte[] bytes) {
        try {
            Path abs = file.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            try {
                Files.write(tmp, bytes);
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new CliException(file + ": cannot write: " + e.getMessage());
        }
    }

    public static void write(Path file, Message m) {
        writeAtomically(file, print(m).getBytes(StandardCharsets.UTF_8));
    }
}

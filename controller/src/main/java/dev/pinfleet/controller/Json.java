package dev.pinfleet.controller;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.fs.IoErrors;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.SignedManifest;
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
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new CliException(file + ": no such file");
        } catch (IOException e) {
            throw new CliException(file + ": cannot read: " + IoErrors.describe(e));
        }
        try {
            return ProtoJson.parse(text, builder);
        } catch (InvalidProtocolBufferException e) {
            if (builder instanceof SignedManifest.Builder && isManifest(text)) {
                throw new CliException(file + " is an unsigned manifest (as 'pinfleet freeze' writes it): sign it with "
                        + "`pinfleet sign " + file + " --key KEY -o SIGNED.json`, then give SIGNED.json");
            }
            throw new CliException(file + ": not a valid " + builder.getDescriptorForType().getName() + " JSON: "
                    + e.getMessage());
        }
    }

    private static boolean isManifest(String text) {
        try {
            ProtoJson.parse(text, Manifest.newBuilder());
            return true;
        } catch (InvalidProtocolBufferException e) {
            return false;
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

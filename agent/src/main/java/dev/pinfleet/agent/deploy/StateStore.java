package dev.pinfleet.agent.deploy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.pinfleet.agent.fs.Durable;
import dev.pinfleet.proto.v1.AppStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/** Per-app state (serial, release, outcome) as JSON, replaced atomically and durably. */
public final class StateStore {
    private StateStore() {}

    public static AppStatus read(AppLayout layout, String app) throws IOException {
        if (!Files.exists(layout.state())) {
            return AppStatus.newBuilder().setApp(app).build();
        }
        AppStatus.Builder b = AppStatus.newBuilder();
        try {
            JsonFormat.parser().merge(Files.readString(layout.state(), StandardCharsets.UTF_8), b);
        } catch (InvalidProtocolBufferException e) {
            throw new IOException(layout.state() + ": corrupt state: " + e.getMessage(), e);
        }
        return b.build();
    }

    /** Writes temp, fsyncs it, renames over the old state, fsyncs the directory. */
    public static void write(AppLayout layout, AppStatus status) throws IOException {
        Files.createDirectories(layout.dir());
        Durable.replace(layout.state(), (JsonFormat.printer().print(status) + "\n").getBytes(StandardCharsets.UTF_8));
    }
}

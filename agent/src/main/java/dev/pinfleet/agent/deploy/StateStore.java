package dev.pinfleet.agent.deploy;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.pinfleet.fs.Durable;
import dev.pinfleet.agent.state.AppState;
import dev.pinfleet.agent.state.DeployRecord;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.proto.v1.AppStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * Per-app state ({@link AppState}, format {@value #FORMAT}) as JSON ({@link ProtoJson}) in {@code apps/APP/state.json},
 * replaced atomically and durably. Reads format 1 too, the Status RPC's AppStatus message that agents wrote before
 * the record had a format of its own; refuses a newer format.
 */
public final class StateStore {
    /** The format this agent writes. */
    public static final int FORMAT = 2;
    /** Deploy attempts kept in {@link AppState#getHistoryList()}. */
    public static final int HISTORY = 20;

    private StateStore() {}

    /** The app's state; an empty one (serial 0) when it has none yet. */
    public static AppState read(AppLayout layout, String app) throws IOException {
        if (!Files.exists(layout.state())) {
            return AppState.newBuilder().setFormat(FORMAT).setApp(app).build();
        }
        String text = Files.readString(layout.state(), StandardCharsets.UTF_8);
        try {
            Struct fields = ProtoJson.parse(text, Struct.newBuilder()).build();
            Value format = fields.getFieldsMap().get("format");
            if (format == null) {
                return fromFormat1(text);
            }
            if (format.getKindCase() != Value.KindCase.NUMBER_VALUE || format.getNumberValue() != FORMAT) {
                String shown = format.getKindCase() == Value.KindCase.NUMBER_VALUE
                        && format.getNumberValue() == Math.rint(format.getNumberValue())
                        ? Long.toString((long) format.getNumberValue()) : ProtoJson.line(format);
                throw new IOException(layout.state() + ": state format " + shown + " is not the format " + FORMAT
                        + " this agent reads (written by a newer agent?); refusing to act on or rewrite it");
            }
            return ProtoJson.parse(text, AppState.newBuilder()).build();
        } catch (InvalidProtocolBufferException e) {
            throw new IOException(layout.state() + ": corrupt state: " + e.getMessage(), e);
        }
    }

    /** The first format: AppStatus JSON (serial, release, digest, last outcome and error; no times, no deploy id). */
    private static AppState fromFormat1(String text) throws InvalidProtocolBufferException {
        AppStatus.Builder old = ProtoJson.parse(text, AppStatus.newBuilder());
        AppState.Builder b = AppState.newBuilder().setFormat(FORMAT).setApp(old.getApp()).setSerial(old.getSerial())
                .setRelease(old.getRelease()).setManifestDigest(old.getManifestDigest());
        if (old.getLastOutcomeValue() != 0 || !old.getLastError().isEmpty()) {
            DeployRecord last = DeployRecord.newBuilder().setSerial(old.getSerial()).setRelease(old.getRelease())
                    .setOutcome(old.getLastOutcome()).setError(old.getLastError()).build();
            b.setLast(last).addHistory(last);
        }
        return b.build();
    }

    /** Writes temp, fsyncs it, renames over the old state, fsyncs the directory. */
    public static void write(AppLayout layout, AppState state) throws IOException {
        Files.createDirectories(layout.dir());
        Durable.replace(layout.state(), ProtoJson.pretty(state.toBuilder().setFormat(FORMAT))
                .getBytes(StandardCharsets.UTF_8));
    }

    /**
     * {@code state} with {@code attempt} as its last deploy attempt, at the head of the history (replacing the entry
     * of the same attempt: same deploy id and start), which keeps at most {@value #HISTORY}.
     */
    static AppState.Builder attempt(AppState.Builder state, DeployRecord attempt) {
        List<DeployRecord> history = new ArrayList<>(state.getHistoryList());
        if (!history.isEmpty() && history.get(0).getStartedUnixMs() == attempt.getStartedUnixMs()
                && history.get(0).getDeployId().equals(attempt.getDeployId())) {
            history.remove(0);
        }
        history.add(0, attempt);
        return state.setLast(attempt).clearHistory().addAllHistory(history.subList(0, Math.min(HISTORY,
                history.size())));
    }
}

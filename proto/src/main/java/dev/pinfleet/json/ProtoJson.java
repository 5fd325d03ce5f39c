package dev.pinfleet.json;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.math.BigInteger;
import java.util.ArrayList;

/**
 * The project's one JSON codec. Proto messages go through protobuf's {@link JsonFormat} with one set of settings
 * everywhere: keys are the proto field names ({@code at_unix_ms}, as in the {@code .proto} files and the docs), and
 * 64-bit integers are written as JSON numbers rather than the proto3 mapping's strings ({@code "millis": 31}, not
 * {@code "31"}; every such value here — milliseconds, bytes, serials — is far below 2^53, so JavaScript readers lose
 * nothing). Parsing is JsonFormat's and accepts both key styles and both number forms, so files written before
 * these settings are read as they always were; unknown fields are refused. Formats that are not ours (PEP 691
 * index pages) are built as Gson trees — Gson is the library JsonFormat itself is built on, so there is one JSON
 * library in the build — and written by the same two writers ({@link #pretty}, {@link #line}).
 */
public final class ProtoJson {
    private ProtoJson() {}

    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().preservingProtoFieldNames()
            .omittingInsignificantWhitespace();
    private static final JsonFormat.Printer EVERY_FIELD = PRINTER.alwaysPrintFieldsWithNoPresence();
    private static final JsonFormat.Parser PARSER = JsonFormat.parser();
    private static final Gson PRETTY = new GsonBuilder().disableHtmlEscaping().setPrettyPrinting().create();
    private static final Gson LINE = new GsonBuilder().disableHtmlEscaping().create();

    /** {@code m} as a JSON tree: proto field names, 64-bit integers as numbers. */
    public static JsonObject tree(MessageOrBuilder m) {
        return tree(m, PRINTER);
    }

    /**
     * Like {@link #tree} with every field present, also those at their default (an empty string, a zero, an empty
     * list): records whose readers look for each key (e.g. {@code pinfleet history --json}).
     */
    public static JsonObject everyField(MessageOrBuilder m) {
        return tree(m, EVERY_FIELD);
    }

    private static JsonObject tree(MessageOrBuilder m, JsonFormat.Printer printer) {
        JsonObject o;
        try {
            o = JsonParser.parseString(printer.print(m)).getAsJsonObject();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("cannot print " + m.getDescriptorForType().getFullName() + " as JSON", e);
        }
        numbers(m.getDescriptorForType(), o);
        return o;
    }

    /** {@code m} as indented JSON (two spaces), newline-terminated: files people read. */
    public static String pretty(MessageOrBuilder m) {
        return pretty(tree(m));
    }

    /** {@code m} as one line of JSON, without a newline: log lines, NDJSON, HTTP bodies. */
    public static String line(MessageOrBuilder m) {
        return line(tree(m));
    }

    /** A JSON tree as indented JSON, newline-terminated. */
    public static String pretty(JsonElement e) {
        return PRETTY.toJson(e) + "\n";
    }

    /** A JSON tree as one line of JSON, without a newline. */
    public static String line(JsonElement e) {
        return LINE.toJson(e);
    }

    /**
     * Merges {@code json} into {@code builder}: proto field names or their lowerCamelCase JSON names, 64-bit integers
     * as numbers or strings; unknown fields, duplicate fields and values of the wrong type are refused.
     *
     * @throws InvalidProtocolBufferException saying what is wrong
     */
    public static <B extends Message.Builder> B parse(String json, B builder) throws InvalidProtocolBufferException {
        try {
            PARSER.merge(json, builder);
        } catch (RuntimeException e) { // Gson's own exceptions for text that is not JSON at all
            throw new InvalidProtocolBufferException(e.getMessage());
        }
        return builder;
    }

    /** Rewrites the 64-bit integer fields of {@code d} in {@code o} (JsonFormat writes them as strings) as numbers. */
    private static void numbers(Descriptor d, JsonObject o) {
        for (FieldDescriptor f : d.getFields()) {
            JsonElement v = o.get(f.getName());
            if (v == null) {
                continue;
            }
            if (f.isMapField()) {
                FieldDescriptor value = f.getMessageType().findFieldByName("value");
                JsonObject map = v.getAsJsonObject();
                for (String key : new ArrayList<>(map.keySet())) {
                    map.add(key, number(value, map.get(key)));
                }
            } else if (f.isRepeated()) {
                JsonArray a = v.getAsJsonArray();
                for (int i = 0; i < a.size(); i++) {
                    a.set(i, number(f, a.get(i)));
                }
            } else {
                o.add(f.getName(), number(f, v));
            }
        }
    }

    private static JsonElement number(FieldDescriptor f, JsonElement v) {
        if (f.getJavaType() == FieldDescriptor.JavaType.LONG && v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) {
            return new JsonPrimitive(new BigInteger(v.getAsString())); // uint64 above 2^63 stays exact
        }
        if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && v.isJsonObject()
                && !f.getMessageType().getFile().getPackage().equals("google.protobuf")) {
            numbers(f.getMessageType(), v.getAsJsonObject()); // well-known types have JSON forms of their own
        }
        return v;
    }
}

package dev.pinfleet.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MessageOptions;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.DeployReport;
import dev.pinfleet.proto.v1.FleetReport;
import dev.pinfleet.proto.v1.NodeReport;
import dev.pinfleet.proto.v1.PhaseTiming;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProtoJsonTest {
    private static FleetReport report() {
        return FleetReport.newBuilder().setDeployId("d1").setSerial(7)
                .setStarted(Timestamps.fromMillis(1_780_000_000_123L))
                .addNodes(NodeReport.newBuilder().setNode("web1").setMillis(31).setStartedUnixMs(1_780_000_000_200L)
                        .setReport(DeployReport.newBuilder().setSerial(7).setTotalMs(4_000_000_000L)
                                .addPhases(PhaseTiming.newBuilder().setMillis(12))
                                .addArtifacts(ArtifactResult.newBuilder().setFilename("six.whl").setBytes(5_000_000_000L))))
                .build();
    }

    /** Every string in the tree that is all digits: a number written as a string. */
    private static int numbersAsStrings(JsonElement e) {
        if (e.isJsonObject()) {
            return e.getAsJsonObject().entrySet().stream().mapToInt(x -> numbersAsStrings(x.getValue())).sum();
        }
        if (e.isJsonArray()) {
            int n = 0;
            for (JsonElement x : e.getAsJsonArray()) {
                n += numbersAsStrings(x);
            }
            return n;
        }
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().matches("-?[0-9]+") ? 1 : 0;
    }

    @Test
    void protoFieldNamesAndNumbersAsNumbersAtEveryDepth() throws Exception {
        String line = ProtoJson.line(report());
        assertFalse(line.contains("\n"), line);
        for (String expected : new String[] {"\"deploy_id\":\"d1\"", "\"serial\":7", "\"millis\":31",
            "\"started_unix_ms\":1780000000200", "\"total_ms\":4000000000", "\"bytes\":5000000000",
            "\"phases\":[{\"millis\":12}]", "\"started\":\"2026-05-28T20:26:40.123Z\""}) {
            assertTrue(line.contains(expected), expected + " not in " + line);
        }
        assertFalse(line.matches(".*\"[a-z]+[A-Z].*"), "one key style (proto names): " + line);
        assertEquals(0, numbersAsStrings(JsonParser.parseString(line)), line);
        assertEquals(0, numbersAsStrings(JsonParser.parseString(ProtoJson.pretty(report()))));
        // the proto3 mapping's own output would have had them as strings: the rewrite is what this tests
        assertTrue(numbersAsStrings(JsonParser.parseString(JsonFormat.printer().print(report()))) >= 5);
    }

    @Test
    void whatItWritesAndWhatTheProto3MappingWroteBeforeBothReadBack() throws Exception {
        FleetReport r = report();
        assertEquals(r, ProtoJson.parse(ProtoJson.line(r), FleetReport.newBuilder()).build());
        assertEquals(r, ProtoJson.parse(ProtoJson.pretty(r), FleetReport.newBuilder()).build());
        assertTrue(ProtoJson.pretty(r).startsWith("{\n  \"deploy_id\": \"d1\",\n") && ProtoJson.pretty(r).endsWith("}\n"),
                ProtoJson.pretty(r));
        String before = JsonFormat.printer().print(r); // lowerCamelCase keys, int64 as strings
        assertTrue(before.contains("\"deployId\"") && before.contains("\"totalMs\": \"4000000000\""), before);
        assertEquals(r, ProtoJson.parse(before, FleetReport.newBuilder()).build());
    }

    @Test
    void unknownFieldsWrongTypesAndNonJsonAreRefusedAsInvalidProtocolBuffers() {
        for (String bad : new String[] {"{\"deploy_idd\":\"x\"}", "{\"serial\":\"seven\"}", "{\"serial\":1.5}", "[1]",
            "not json", "{\"deploy_id\":", ""}) {
            assertThrows(InvalidProtocolBufferException.class, () -> ProtoJson.parse(bad, FleetReport.newBuilder()), bad);
        }
    }

    @Test
    void mapValuesRepeatedValuesAndUnsignedValuesAboveTwoToTheSixtyThreeAreNumbersToo() throws Exception {
        // a message with the field shapes the project's protos do not have (yet): map<string, int64>, repeated
        // uint64, a nested message inside a map
        FieldDescriptorProto.Label optional = FieldDescriptorProto.Label.LABEL_OPTIONAL;
        FieldDescriptorProto.Label repeated = FieldDescriptorProto.Label.LABEL_REPEATED;
        DescriptorProto entry = DescriptorProto.newBuilder().setName("CountsEntry")
                .setOptions(MessageOptions.newBuilder().setMapEntry(true))
                .addField(field("key", 1, FieldDescriptorProto.Type.TYPE_STRING, optional, null))
                .addField(field("value", 2, FieldDescriptorProto.Type.TYPE_INT64, optional, null)).build();
        DescriptorProto shapes = DescriptorProto.newBuilder().setName("Shapes").addNestedType(entry)
                .addField(field("counts", 1, FieldDescriptorProto.Type.TYPE_MESSAGE, repeated, ".t.Shapes.CountsEntry"))
                .addField(field("big", 2, FieldDescriptorProto.Type.TYPE_UINT64, repeated, null))
                .addField(field("child", 3, FieldDescriptorProto.Type.TYPE_MESSAGE, optional, ".t.Shapes")).build();
        Descriptor d = FileDescriptor.buildFrom(FileDescriptorProto.newBuilder().setName("t.proto").setPackage("t")
                .setSyntax("proto3").addMessageType(shapes).build(), new FileDescriptor[0]).findMessageTypeByName("Shapes");
        Descriptor e = d.findNestedTypeByName("CountsEntry");
        DynamicMessage child = DynamicMessage.newBuilder(d).addRepeatedField(d.findFieldByName("big"), 3L).build();
        DynamicMessage m = DynamicMessage.newBuilder(d)
                .addRepeatedField(d.findFieldByName("counts"), DynamicMessage.newBuilder(e)
                        .setField(e.findFieldByName("key"), "a").setField(e.findFieldByName("value"), 9_007_199_254_740_993L).build())
                .addRepeatedField(d.findFieldByName("big"), -1L) // 2^64 - 1 as uint64
                .setField(d.findFieldByName("child"), child).build();
        JsonObject tree = ProtoJson.tree(m);
        assertEquals(0, numbersAsStrings(tree), tree.toString());
        assertEquals(Map.of("a", 9_007_199_254_740_993L), Map.of("a", tree.getAsJsonObject("counts").get("a").getAsLong()));
        JsonArray big = tree.getAsJsonArray("big");
        assertEquals("18446744073709551615", big.get(0).getAsBigInteger().toString());
        assertEquals("{\"counts\":{\"a\":9007199254740993},\"big\":[18446744073709551615],\"child\":{\"big\":[3]}}",
                ProtoJson.line(m));
        assertEquals(m, ProtoJson.parse(ProtoJson.line(m), DynamicMessage.newBuilder(d)).build());
    }

    private static FieldDescriptorProto field(String name, int number, FieldDescriptorProto.Type type,
            FieldDescriptorProto.Label label, String typeName) {
        FieldDescriptorProto.Builder f = FieldDescriptorProto.newBuilder().setName(name).setNumber(number).setType(type)
                .setLabel(label).setJsonName(name);
        return (typeName == null ? f : f.setTypeName(typeName)).build();
    }
}

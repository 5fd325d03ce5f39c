package dev.pinfleet.controller.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.mirror.Processes;
import dev.pinfleet.mirror.serve.MirrorServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.proto.v1.FleetReport;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every --json output of every command, through the real CLI against real agents on loopback: each parses, as one
 * JSON object or (for followed rollouts) one object a line, writes no number as a string and has one key style
 * (snake_case: no key with a capital letter).
 */
class JsonOutputTest {
    /** A string that is only an integer: what a number written as a string looks like ("millis":"31"). */
    private static final Pattern NUMERIC = Pattern.compile("-?[0-9]+");

    /**
     * Keys whose values are text by type though they may look like a number: batch and max_failures take "N" or
     * "P%"; deploy_id and an agent's last_deploy_id are the opaque id string agents are sent (the rollout's id in
     * decimal); and every *version
     * (PEP 440 text such as "2" or "2.0").
     */
    private static final java.util.Set<String> TEXT = java.util.Set.of("batch", "max_failures");

    @TempDir Path dir;
    FleetHarness h;

    @BeforeEach
    void setUp() throws Exception {
        h = new FleetHarness(dir);
    }

    @AfterEach
    void tearDown() {
        h.close();
    }

    @Test
    void everyJsonOutputParsesWithNumbersAsNumbersAndSnakeCaseKeys() throws Exception {
        h.start(3);
        Path inv = h.inventory("");
        Path v1 = h.signed(h.manifest(1, h.app1));
        h.deploy(v1, List.of(), 0);
        Path v2 = h.signed(h.manifest(2, h.app2));
        String[] tls = {"--inventory", inv.toString(), "--plaintext"};

        Map<String, List<JsonObject>> outputs = new HashMap<>();
        outputs.put("verify", one(h.cli("verify", v2.toString(), "--trusted", h.fleet.trustedKeys().toString(), "--json")));
        outputs.put("plan", one(h.cli(cat(new String[] {"plan", v2.toString(), "--json"}, tls))));
        List<JsonObject> deploy = lines(h.cli(cat(new String[] {"deploy", v2.toString(), "--json", "--canary", "1",
            "--batch", "1"}, tls)), 0);
        outputs.put("deploy", deploy);
        outputs.put("status", one(h.cli(cat(new String[] {"status", "--json"}, tls))));
        outputs.put("rollback", lines(h.cli(cat(new String[] {"rollback", "--app", "shop", "--key", h.key.toString(),
            "-o", dir.resolve("rb.signed.json").toString(), "--json"}, tls)), 0));
        outputs.put("history", List.of(wrap(h.cli("history", "--json"))));
        outputs.put("show", one(h.cli("show", "2", "--json")));
        outputs.put("audit", List.of(wrap(h.cli("audit", "--json"))));

        Path mirror = dir.resolve("mirror");
        outputs.put("mirror init", one(h.cli("mirror", "init", "--mirror", mirror.toString(), "--json")));
        assertEquals(0, h.cli("mirror", "acknowledge", "--mirror", mirror.toString(), "--as", "ci", "--policy-version",
                "1").code());
        Path wheels = dir.resolve("wheels");
        outputs.put("mirror publish", one(h.cli("mirror", "publish", wheels.resolve(h.core.getFilename()).toString(),
                wheels.resolve(h.app1.getFilename()).toString(), "--mirror", mirror.toString(), "--as", "ci", "--json")));
        Path reqs = dir.resolve("requirements.txt");
        Files.writeString(reqs, "mypkg==1.0\ncore-lib==1.0\n");
        outputs.put("freeze", one(h.cli("freeze", reqs.toString(), "--mirror", mirror.toString(), "--app", "shop",
                "--python", dev.pinfleet.agent.testing.TestFleet.pythonVersion(), "-o", dir.resolve("m.json").toString(),
                "--json")));
        outputs.put("sign", one(h.cli("sign", dir.resolve("m.json").toString(), "--key", h.key.toString(), "-o",
                dir.resolve("m.signed.json").toString(), "--json")));
        outputs.put("mirror verify", one(h.cli("mirror", "verify", "--mirror", mirror.toString(), "--json")));
        outputs.put("mirror index", one(h.cli("mirror", "index", "--mirror", mirror.toString(), "--json")));
        outputs.put("mirror token", one(h.cli("mirror", "token", "ci", "--token-file", dir.resolve("ci.token").toString(),
                "--tokens", dir.resolve("tokens").toString(), "--json")));
        outputs.put("keygen", one(h.cli("keygen", dir.resolve("keys/release").toString(), "--json")));
        Path pki = dir.resolve("pki");
        outputs.put("certs init", one(h.cli("certs", "init", pki.toString(), "--json")));
        outputs.put("certs issue", one(h.cli("certs", "issue", "web1", "--role", "agent", "--dir", pki.toString(),
                "--json")));
        try (MirrorServer server = new MirrorServer(mirror, new InetSocketAddress("127.0.0.1", 0),
                new SimpleMeterRegistry())) {
            String index = "http://127.0.0.1:" + server.start() + "/simple/";
            Path pulled = signedOffMirror("pulled");
            outputs.put("mirror pull", one(h.cli("mirror", "pull", "-r", reqs.toString(), "--index", index, "--mirror",
                    pulled.toString(), "--as", "ci", "--python", dev.pinfleet.agent.testing.TestFleet.pythonVersion(),
                    "--json")));
            // a real virtualenv with the two wheels installed by real pip from the mirror, imported onto another one
            Path venv = dir.resolve("venv");
            Path python = Processes.venv(venv);
            Processes.Result pip = Processes.run("python3", "-m", "pip", "--python", python.toString(), "install",
                    "--no-deps", "--no-cache-dir", "--index-url", index, "mypkg==1.0", "core-lib==1.0");
            assertEquals(0, pip.exit(), pip.output());
            outputs.put("mirror import-venv", one(h.cli("mirror", "import-venv", venv.toString(), "--mirror",
                    signedOffMirror("imported").toString(), "--as", "ci", "-o", dir.resolve("pins.txt").toString(),
                    "--json")));
        }

        for (Map.Entry<String, List<JsonObject>> e : outputs.entrySet()) {
            assertFalse(e.getValue().isEmpty(), e.getKey());
            for (JsonObject o : e.getValue()) {
                List<String> bad = new ArrayList<>();
                check("", o, bad);
                assertTrue(bad.isEmpty(), e.getKey() + ": " + bad + " in " + o);
            }
        }

        // Spot checks of values: numbers are JSON numbers, the canary has its wave, the same in events and report.
        assertEquals(2, outputs.get("verify").get(0).get("serial").getAsLong());
        assertEquals(3650, outputs.get("certs init").get(0).get("days").getAsInt());
        assertEquals(2, outputs.get("mirror pull").get(0).get("published").getAsInt());
        assertEquals(2, outputs.get("mirror import-venv").get(0).get("distributions").getAsInt());
        assertTrue(Files.exists(dir.resolve("keys/release.pub")), "keygen wrote the public key");
        assertFalse(outputs.get("keygen").get(0).get("key_id").getAsString().isEmpty());
        assertTrue(outputs.get("plan").get(0).get("fetch_bytes").getAsJsonPrimitive().isNumber());
        Map<String, Integer> startedIn = new HashMap<>();
        JsonObject report = null;
        for (JsonObject line : deploy) {
            String type = line.get("type").getAsString();
            if (type.equals("node_started")) {
                startedIn.put(line.get("node").getAsString(), line.get("wave").getAsInt());
            } else if (type.equals("report")) {
                report = line.getAsJsonObject("report");
            }
        }
        assertEquals(3, startedIn.size(), startedIn.toString());
        assertTrue(startedIn.containsValue(0), "a canary in wave 0: " + startedIn);
        for (JsonElement n : report.getAsJsonArray("nodes")) {
            JsonObject node = n.getAsJsonObject();
            assertTrue(node.has("wave"), "every node, the canary too, has its wave: " + node);
            assertEquals(startedIn.get(node.get("node").getAsString()).intValue(), node.get("wave").getAsInt(), node.toString());
            assertTrue(node.get("millis").getAsJsonPrimitive().isNumber(), node.toString());
        }
        // The report file parses back (as do files written with the old key "batch").
        String old = "{\"app\":\"shop\",\"nodes\":[{\"node\":\"web1\",\"batch\":2}]}";
        Path oldFile = Files.writeString(dir.resolve("old-report.json"), old);
        assertEquals(2, Json.read(oldFile, FleetReport.newBuilder()).build().getNodes(0).getWave());
        assertEquals(ManifestCodec.contentDigest(h.manifest(2, h.app2)),
                outputs.get("plan").get(0).get("manifest_digest").getAsString());
    }

    @Test
    void historyShowAndAuditTakeQuietAndVerboseAsEveryCommandDoes() throws Exception {
        h.start(1);
        h.deploy(h.signed(h.manifest(1, h.app1)), List.of("--message", "first"), 0);

        FleetHarness.Run history = h.cli("history");
        assertEquals(0, history.code(), history.all());
        assertTrue(history.out().startsWith(String.format("%5s  %-12s", "ID", "APP")), history.out());
        assertTrue(history.out().lines().anyMatch(l -> l.matches(" +1  shop +1 .* succeeded +1 ok +first")), history.out());
        assertTrue(history.out().endsWith("1 rollout(s); newest: 1 (succeeded)\n"), history.out());
        FleetHarness.Run historyQ = h.cli("history", "-q");
        assertEquals("1 rollout(s); newest: 1 (succeeded)\n", historyQ.out(), "-q: the summary line only");
        FleetHarness.Run historyV = h.cli("history", "-v");
        assertTrue(historyV.out().contains("deploy, signed by "), "-v: kind and signing keys of each:\n" + historyV.out());
        assertFalse(history.out().contains("signed by "), history.out());

        String first = "rollout 1: deploy of shop serial 1: succeeded (1 ok)\n";
        FleetHarness.Run show = h.cli("show", "1");
        assertTrue(show.out().startsWith(first) && show.out().contains("\nevents:\n"), show.out());
        assertFalse(show.out().contains("strategy:"), show.out());
        assertEquals(first, h.cli("show", "1", "-q").out(), "-q: the summary line only");
        assertTrue(h.cli("show", "1", "-v").out().contains("\nstrategy:  canary "), "-v adds the strategy");

        FleetHarness.Run audit = h.cli("audit");
        assertTrue(audit.out().startsWith("TIME (UTC)") && audit.out().endsWith("1 operator action(s)\n"), audit.out());
        assertEquals("1 operator action(s)\n", h.cli("audit", "-q").out());
        assertTrue(h.cli("audit", "--verbose").out().startsWith(" ENTRY  TIME (UTC)"), "-v adds each entry's position");
    }

    /** A mirror directory laid out and signed off by "ci", ready to publish into. */
    private Path signedOffMirror(String name) {
        Path m = dir.resolve(name);
        assertEquals(0, h.cli("mirror", "init", "--mirror", m.toString()).code());
        assertEquals(0, h.cli("mirror", "acknowledge", "--mirror", m.toString(), "--as", "ci", "--policy-version", "1")
                .code());
        return m;
    }

    private static String[] cat(String[] a, String[] b) {
        String[] all = new String[a.length + b.length];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** One JSON object: the whole of standard output. */
    private static List<JsonObject> one(FleetHarness.Run r) {
        assertEquals(0, r.code(), r.all());
        return List.of(JsonParser.parseString(r.out()).getAsJsonObject());
    }

    /** A JSON array (history, audit), as an object to check. */
    private static JsonObject wrap(FleetHarness.Run r) {
        assertEquals(0, r.code(), r.all());
        JsonObject o = new JsonObject();
        o.add("rows", JsonParser.parseString(r.out()).getAsJsonArray());
        return o;
    }

    /** Newline-delimited JSON: every line one object. */
    private static List<JsonObject> lines(FleetHarness.Run r, int code) {
        assertEquals(code, r.code(), r.all());
        List<JsonObject> out = new ArrayList<>();
        r.out().lines().forEach(l -> out.add(JsonParser.parseString(l).getAsJsonObject()));
        return out;
    }

    /** Collects keys with a capital letter and strings that are only a number. */
    private static void check(String where, JsonElement e, List<String> bad) {
        if (e.isJsonObject()) {
            for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().entrySet()) {
                if (!m.getKey().equals(m.getKey().toLowerCase(java.util.Locale.ROOT))) {
                    bad.add("key " + where + "." + m.getKey() + " is not snake_case");
                }
                if (!TEXT.contains(m.getKey()) && !m.getKey().endsWith("version") && !m.getKey().endsWith("deploy_id")) {
                    check(where + "." + m.getKey(), m.getValue(), bad);
                }
            }
        } else if (e.isJsonArray()) {
            int i = 0;
            for (JsonElement x : e.getAsJsonArray()) {
                check(where + "[" + i++ + "]", x, bad);
            }
        } else if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && NUMERIC.matcher(e.getAsString()).matches()) {
            bad.add(where + " = \"" + e.getAsString() + "\" (a number as a string)");
        }
    }
}

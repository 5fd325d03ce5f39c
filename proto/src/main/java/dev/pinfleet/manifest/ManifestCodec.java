package dev.pinfleet.manifest;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.Timestamps;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import dev.pinfleet.proto.v1.Manifest;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The manifest's JSON form, its validation and its content digest: the rules the controller and
 * every agent share. Parse only bytes whose signature was verified.
 */
public final class ManifestCodec {
    private ManifestCodec() {}

    /**
     * Largest manifest payload accepted, in bytes (4 MiB: room for thousands of artifacts). {@link #parse} and
     * {@code TrustPolicy.verify} refuse a larger one before parsing it or checking its signatures.
     */
    public static final int MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
    /** Most artifacts one manifest may list. */
    public static final int MAX_ARTIFACTS = 20_000;
    /** Largest single artifact accepted, in bytes (4 GiB). */
    public static final long MAX_ARTIFACT_BYTES = 4L << 30;

    private static final Pattern PYTHON = Pattern.compile("[0-9]{1,2}\\.[0-9]{1,3}");
    private static final Pattern VERSION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9.+!_-]{0,127}");
    private static final Pattern DIST_NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?");

    /**
     * The JSON bytes that get signed: the project's JSON form ({@link ProtoJson#pretty}: proto field names, numbers
     * as numbers), fields in declaration order, newline-terminated. {@link #parse} also reads manifests written in
     * the proto3 mapping's lowerCamelCase with 64-bit numbers as strings, as earlier versions signed them.
     */
    public static byte[] toJson(Manifest manifest) {
        return ProtoJson.pretty(manifest).getBytes(StandardCharsets.UTF_8);
    }

    /** Parses JSON bytes strictly (unknown fields refused) and validates the result. */
    public static Manifest parse(byte[] payload) throws ManifestException {
        if (payload.length > MAX_PAYLOAD_BYTES) {
            throw new ManifestException("manifest payload is " + payload.length + " bytes, more than the limit of "
                    + MAX_PAYLOAD_BYTES + " bytes; refused before parsing");
        }
        Manifest.Builder b = Manifest.newBuilder();
        try {
            ProtoJson.parse(new String(payload, StandardCharsets.UTF_8), b);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw new ManifestException("manifest payload is not a valid manifest JSON: " + e.getMessage(), e);
        }
        Manifest m = b.build();
        validate(m);
        return m;
    }

    /** Checks every field a path, URL or decision is derived from; the message names the field. */
    public static void validate(Manifest m) throws ManifestException {
        String why = Names.checkApp(m.getApp());
        if (why != null) {
            throw new ManifestException("manifest field app: " + why);
        }
        if (m.getSerial() <= 0) {
            throw new ManifestException("manifest field serial: must be a positive integer, got " + m.getSerial());
        }
        if (!m.hasExpires()) {
            throw new ManifestException("manifest field expires: missing; every manifest must expire");
        }
        if (!PYTHON.matcher(m.getPython()).matches()) {
            throw new ManifestException("manifest field python: '" + Names.printable(m.getPython())
                    + "' is not MAJOR.MINOR (e.g. 3.11)");
        }
        if (!m.getEnvironment().isEmpty() && Names.checkApp(m.getEnvironment()) != null) {
            throw new ManifestException("manifest field environment: '" + Names.printable(m.getEnvironment())
                    + "' must match [a-z0-9][a-z0-9._-]{0,63}");
        }
        if (m.getArtifactsCount() == 0) {
            throw new ManifestException("manifest field artifacts: empty; a release needs at least one artifact");
        }
        if (m.getArtifactsCount() > MAX_ARTIFACTS) {
            throw new ManifestException("manifest field artifacts: " + m.getArtifactsCount()
                    + " entries, more than the limit of " + MAX_ARTIFACTS);
        }
        Set<String> filenames = new HashSet<>();
        Set<String> wheelNames = new HashSet<>();
        Set<String> installPaths = new HashSet<>();
        for (int i = 0; i < m.getArtifactsCount(); i++) {
            Artifact a = m.getArtifacts(i);
            String where = "manifest artifacts[" + i + "] (" + Names.printable(a.getFilename()) + ")";
            if (!DIST_NAME.matcher(a.getName()).matches()) {
                throw new ManifestException(where + " field name: '" + Names.printable(a.getName())
                        + "' is not a valid distribution name");
            }
            if (!VERSION.matcher(a.getVersion()).matches()) {
                throw new ManifestException(where + " field version: '" + Names.printable(a.getVersion())
                        + "' is not a valid version");
            }
            why = Names.checkFileName(a.getFilename());
            if (why != null) {
                throw new ManifestException(where + " field filename: " + why);
            }
            why = Names.checkRelativePath(a.getPath());
            if (why != null) {
                throw new ManifestException(where + " field path: " + why);
            }
            if (!a.getPath().equals(a.getFilename()) && !a.getPath().endsWith("/" + a.getFilename())) {
                throw new ManifestException(where + " field path: '" + a.getPath()
                        + "' does not end with the artifact's filename");
            }
            if (!Hashing.isSha256Hex(a.getSha256())) {
                throw new ManifestException(where + " field sha256: '" + Names.printable(a.getSha256())
                        + "' is not 64 lowercase hex characters");
            }
            if (a.getSize() < 0 || a.getSize() > MAX_ARTIFACT_BYTES) {
                throw new ManifestException(where + " field size: " + a.getSize() + " is out of range 0.."
                        + MAX_ARTIFACT_BYTES);
            }
            if (!filenames.add(a.getFilename())) {
                throw new ManifestException(where + " field filename: listed twice");
            }
            switch (a.getKind()) {
                case WHEEL -> {
                    if (!a.getFilename().endsWith(".whl")) {
                        throw new ManifestException(where + " field filename: a WHEEL artifact must end in .whl"
                                + " (source distributions are not installed by pinfleet)");
                    }
                    if (!a.getInstallPath().isEmpty()) {
                        throw new ManifestException(where + " field install_path: must be empty for a WHEEL");
                    }
                    if (!wheelNames.add(Names.normalizeProject(a.getName()))) {
                        throw new ManifestException(where + " field name: distribution '" + a.getName()
                                + "' is listed twice");
                    }
                }
                case ARCHIVE, FILE -> {
                    why = Names.checkRelativePath(a.getInstallPath());
                    if (why != null) {
                        throw new ManifestException(where + " field install_path: " + why);
                    }
                    String top = a.getInstallPath().split("/")[0];
                    if (RESERVED_TOP.contains(top)) {
                        throw new ManifestException(where + " field install_path: '" + a.getInstallPath()
                                + "' would overwrite the virtualenv's own '" + top + "' directory");
                    }
                    if (!installPaths.add(a.getInstallPath())) {
                        throw new ManifestException(where + " field install_path: used twice");
                    }
                    if (a.getKind() == ArtifactKind.ARCHIVE && !(a.getFilename().endsWith(".tar.gz")
                            || a.getFilename().endsWith(".tgz") || a.getFilename().endsWith(".zip"))) {
                        throw new ManifestException(where + " field filename: an ARCHIVE must be .tar.gz, .tgz or .zip");
                    }
                }
                default -> throw new ManifestException(where + " field kind: must be WHEEL, ARCHIVE or FILE");
            }
        }
    }

    /**
     * Refuses a manifest whose {@code expires} is not after {@code now}: the agent refuses it, and so do {@code
     * pinfleet sign}, {@code verify} and {@code deploy}, before any node is contacted.
     */
    public static void checkNotExpired(Manifest m, Instant now) throws ManifestException {
        if (Timestamps.toMillis(m.getExpires()) <= now.toEpochMilli()) {
            throw new ManifestException(ManifestException.Reason.EXPIRED, "manifest for app " + m.getApp()
                    + " serial " + m.getSerial() + " expired at " + Timestamps.toString(m.getExpires()) + " (checked at "
                    + Timestamps.toString(Timestamps.fromMillis(now.toEpochMilli())) + ")");
        }
    }

    /**
     * Refuses a manifest bound to an environment other than {@code environment} (a manifest bound to none is
     * refused by a node that is in one, as the agent always did: the node's environment must equal the manifest's).
     */
    public static void checkEnvironment(Manifest m, String environment) throws ManifestException {
        if (!m.getEnvironment().equals(environment)) {
            throw new ManifestException(ManifestException.Reason.ENVIRONMENT, "manifest is bound to environment '"
                    + m.getEnvironment() + "' but this node is in environment '" + environment + "'");
        }
    }

    private static final Set<String> RESERVED_TOP = Set.of("bin", "lib", "lib64", "include", "pyvenv.cfg", ".pinfleet");

    /**
     * The content digest: SHA-256 over the deterministic protobuf encoding of the manifest with its
     * freshness fields (serial, created, expires, environment) cleared. Two manifests that describe
     * the same release have the same digest, so a rollback finds the release already on disk.
     */
    public static String contentDigest(Manifest m) {
        Manifest content = m.toBuilder().clearSerial().clearCreated().clearExpires().clearEnvironment().build();
        try {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            com.google.protobuf.CodedOutputStream cos = com.google.protobuf.CodedOutputStream.newInstance(out);
            cos.useDeterministicSerialization();
            content.writeTo(cos);
            cos.flush();
            return Hashing.sha256Hex(out.toByteArray());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Release directory id for a content digest. */
    public static String releaseId(String contentDigest) {
        return contentDigest.substring(0, 16);
    }
}

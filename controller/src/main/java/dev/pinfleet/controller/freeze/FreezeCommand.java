package dev.pinfleet.controller.freeze;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.wheel.Tags;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "freeze", description = {
    "Resolve every exact pin (name==version) to a wheel on the mirror and write an unsigned manifest",
    "with each file's path, sha256 and size. Review it, then 'pinfleet sign' it."})
public final class FreezeCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(paramLabel = "REQUIREMENTS", description = "Pinned requirements file (one name==version per line).")
    Path requirements;

    @Option(names = "--mirror", required = true, paramLabel = "DIR|URL", description = "Mirror directory or base URL.")
    String mirror;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "Manifest JSON to write.")
    Path output;

    @Option(names = "--app", required = true, description = "Application name ([a-z0-9][a-z0-9._-]*).")
    String app;

    @Option(names = "--serial", description = "Manifest serial, strictly increasing per app (default: current Unix time in seconds).")
    Long serial;

    @Option(names = "--python", defaultValue = "3.11", description = "Target interpreter MAJOR.MINOR (default: ${DEFAULT-VALUE}).")
    String python;

    @Option(names = "--platform", defaultValue = "manylinux_2_36_x86_64",
            description = "Most specific platform tag of the fleet's nodes (default: ${DEFAULT-VALUE}).")
    String platform;

    @Option(names = "--expires-in", defaultValue = "7d", description = "Validity from now: Nd, Nh or Nm (default: ${DEFAULT-VALUE}).")
    String expiresIn;

    @Option(names = "--environment", description = "Bind the manifest to agents of this environment only.")
    String environment;

    @Option(names = "--compile-bytecode", description = "Ask agents to compile .pyc files after install.")
    boolean compileBytecode;

    private final Clock clock;

    public FreezeCommand(Clock clock) {
        this.clock = clock;
    }

    @Override
    public Integer call() {
        List<Requirement> reqs = RequirementsFile.read(requirements);
        if (reqs.isEmpty()) {
            throw new CliException(requirements + ": no pins");
        }
        Tags tags = Target.tags(python, platform);
        List<Artifact> artifacts = new Freezer(MirrorCatalog.open(mirror), tags::isCompatible, tags.toString()).freeze(reqs);
        long now = clock.millis();
        Manifest.Builder m = Manifest.newBuilder()
                .setApp(app)
                .setSerial(serial != null ? serial : now / 1000)
                .setCreated(Timestamps.fromMillis(now))
                .setExpires(Timestamps.fromMillis(now + parseDuration(expiresIn).toMillis()))
                .setPython(python)
                .setCompileBytecode(compileBytecode)
                .addAllArtifacts(artifacts);
        if (environment != null) {
            m.setEnvironment(environment);
        }
        Manifest manifest = m.build();
        try {
            ManifestCodec.validate(manifest);
        } catch (ManifestException e) {
            throw new CliException("frozen manifest is invalid: " + e.getMessage());
        }
        Json.writeAtomically(output, ManifestCodec.toJson(manifest));
        long bytes = artifacts.stream().mapToLong(Artifact::getSize).sum();
        spec.commandLine().getOut().printf("froze %d pin(s) from %s into %s (%d bytes of wheels), serial %d, digest %s%n",
                artifacts.size(), requirements, output, bytes, manifest.getSerial(), ManifestCodec.contentDigest(manifest));
        spec.commandLine().getOut().flush();
        return 0;
    }

    static Duration parseDuration(String s) {
        if (s.matches("[0-9]+[dhm]")) {
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            return switch (s.charAt(s.length() - 1)) {
                case 'd' -> Duration.ofDays(n);
                case 'h' -> Duration.ofHours(n);
                default -> Duration.ofMinutes(n);
            };
        }
        throw new CliException("--expires-in '" + s + "' is not Nd, Nh or Nm", 2);
    }
}

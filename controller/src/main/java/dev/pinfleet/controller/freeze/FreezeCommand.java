package dev.pinfleet.controller.freeze;

import com.google.protobuf.util.Timestamps;
import dev.pinfleet.controller.CliContext;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.Validity;
import dev.pinfleet.controller.client.ControllerOptions;
import dev.pinfleet.controller.client.Serials;
import dev.pinfleet.controller.client.Terminal;
import dev.pinfleet.controller.config.AppSpec;
import dev.pinfleet.controller.config.Settings;
import dev.pinfleet.controller.publish.PublishTarget;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.manifest.ManifestCodec;
import dev.pinfleet.manifest.ManifestException;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.Manifest;
import dev.pinfleet.proto.v1.NextSerialResponse;
import dev.pinfleet.wheel.InstallScheme;
import dev.pinfleet.wheel.Tags;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "freeze", customSynopsis = {
    "pinfleet freeze REQUIREMENTS --app=APP --mirror=DIR|URL -o=FILE [OPTIONS]",
    "       pinfleet freeze REQUIREMENTS --format=pip --mirror=DIR|URL -o=FILE [OPTIONS]"}, description = {
    "Resolve pins to the mirror's wheels: an unsigned manifest, or pip requirements with "
    + "hashes.",
    "",
    "Resolves every exact pin to a wheel on the mirror and writes an unsigned manifest "
    + "with each file's path, sha256 and size (review it, then 'pinfleet sign' it), or, "
    + "with --format pip, a requirements file with --hash for each pin for 'pip install "
    + "--no-deps --require-hashes -r FILE'.",
    "",
    "Input is pip's format as pip and pip-compile write it: name==version, "
    + "name[extra]==version, comments, blank lines, backslash continuations, "
    + "--hash=sha256:HEX (checked against the mirror's file), environment markers "
    + "(evaluated for --python and --platform; false ones are skipped), -r FILE includes "
    + "(relative to the including file; cycles refused) and git pins git+https://…@<40-hex "
    + "commit>#egg=NAME (resolved to the mirror's wheel whose version carries the local "
    + "label +g<first 12 hex of the commit>; a branch or tag is refused). Index options "
    + "(-i, --extra-index-url, …) are ignored: pins resolve against --mirror only. Anything "
    + "else, such as a range, is an error naming file:line.",
    "",
    "The pinned set is checked as a whole, as every agent will install it, and every "
    + "problem is listed at once (nothing is written then): each wheel must pass the "
    + "agents' wheel checks; two wheels must not install the same path (a file with other "
    + "bytes or mode, or a file where another needs a directory), read from their central "
    + "directories and RECORDs; byte-identical files are allowed and listed as shared; a "
    + "project pinned twice under two spellings and a wheel whose Requires-Python excludes "
    + "--python are refused.",
    "",
    "With pinfleet.yml (see 'pinfleet config --help'), the app's spec completes the manifest: its "
    + "requirements file (when REQUIREMENTS is not given), post-switch-hook, health-check and code archives "
    + "(each directory packed into a deterministic zip, or a .zip as it is, published to the mirror as --as "
    + "with the mirror's checks and audit line, pinned by sha256 as an ARCHIVE artifact extracted to its "
    + "install-path in the release)."})
public final class FreezeCommand implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "REQUIREMENTS", arity = "0..1",
            description = "Pinned requirements file (default: the app's 'requirements' in pinfleet.yml).")
    Path requirements;

    @Option(names = "--mirror", required = true, paramLabel = "DIR|URL", description = "Mirror directory or base URL.")
    String mirror;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE", description = "File to write (manifest JSON, or requirements with --format pip).")
    Path output;

    @Option(names = "--format", defaultValue = "manifest", paramLabel = "manifest|pip",
            description = "What to write: the manifest (default) or a hash-pinned requirements file for pip.")
    String format;

    @Option(names = "--app", paramLabel = "APP",
            description = "Application name ([a-z0-9][a-z0-9._-]*); required, but with --format pip.")
    String app;

    @Option(names = "--serial", description = {"Manifest serial, strictly increasing per app (default: the next serial from",
        "the controller when one is configured (--controller, PINFLEET_CONTROLLER), else the current Unix time in seconds)."})
    Long serial;

    @Mixin ControllerOptions controller;

    @Mixin TargetOptions target;

    @Option(names = "--check-deps", description = {
        "Also check that every Requires-Dist of every pinned wheel (markers evaluated, extras "
        + "considered) is satisfied by the pins; list what is missing or conflicting "
        + "(file:line) and write nothing otherwise."})
    boolean checkDeps;

    @Option(names = "--expires-in", defaultValue = Validity.DEFAULT, paramLabel = "DURATION",
            description = "Validity from now: Nd, Nh or Nm (default: ${DEFAULT-VALUE}).")
    String expiresIn;

    @Option(names = "--environment", description = "Bind the manifest to agents of this environment only.")
    String environment;

    @Option(names = "--compile-bytecode", description = "Ask agents to compile .pyc files after install.")
    boolean compileBytecode;

    @Option(names = "--as", paramLabel = "USER",
            description = "Who publishes the app's code archives of pinfleet.yml to the mirror (signed off its policy).")
    String user;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "Upload token (mode 0600) to publish the app's code archives to a URL mirror.")
    Path tokenFile;

    @Mixin OutputOptions print;

    private final Clock clock;
    private final CliContext ctx;

    public FreezeCommand(Clock clock, Terminal terminal, CliContext ctx) {
        this.clock = clock;
        this.ctx = ctx;
    }

    @Override
    public Integer call() {
        boolean pipFormat = switch (format) {
            case "manifest" -> false;
            case "pip" -> true;
            default -> throw new CliException("--format '" + format + "' is not manifest or pip", 2);
        };
        if (!pipFormat && app == null) {
            throw new CliException("--app is required to write a manifest (or 'app:' in pinfleet.yml)", 2);
        }
        AppSpec appSpec = spec.defaultValueProvider() instanceof Settings s ? s.spec(app).orElse(null) : null;
        if (requirements == null) {
            if (appSpec == null || appSpec.requirements() == null) {
                throw new CliException("no requirements file: give REQUIREMENTS, or set 'requirements' of app "
                        + (app == null ? "NAME" : app) + " in pinfleet.yml (apps: " + (app == null ? "NAME" : app)
                        + ": requirements: FILE)", 2);
            }
            requirements = appSpec.requirements();
        }
        MarkerEnvironment env = target.environment();
        String minor = target.minor();
        Tags tags = target.tags();
        RequirementsFile.Result read = RequirementsFile.read(requirements, env);
        if (read.pins().isEmpty()) {
            throw new CliException(requirements + ": no pins for " + env.description()
                    + (read.skipped().isEmpty() ? "" : " (" + read.skipped().size() + " skipped by their markers)"));
        }
        InstallScheme scheme = InstallScheme.virtualenv(minor);
        Freezer.Result resolved = new Freezer(MirrorCatalog.open(mirror), tags::isCompatible, tags.toString(), scheme)
                .resolveAll(read.pins());
        List<Freezer.Pinned> pinned = resolved.pins();
        InstallCheck.Result whole = InstallCheck.check(pinned, env, scheme);
        List<String> problems = new ArrayList<>(resolved.problems());
        problems.addAll(whole.problems());
        if (checkDeps) {
            problems.addAll(DependencyCheck.check(pinned, env));
        }
        if (!problems.isEmpty()) {
            throw new CliException(problems.size() + " problem(s) for " + env.description() + "; nothing was written:\n  "
                    + String.join("\n  ", problems));
        }
        for (String path : whole.shared()) {
            print.line("shared with identical bytes: %s", path);
        }
        for (Freezer.Pinned p : pinned) {
            print.detail("  %s sha256 %s (%d bytes)", p.file().path(), p.file().sha256(), p.file().size());
        }
        long bytes = pinned.stream().mapToLong(p -> p.file().size()).sum();
        String skipped = read.skipped().isEmpty() ? "" : ", " + read.skipped().size() + " skipped by their markers";
        String deps = checkDeps ? ", dependencies satisfied" : "";
        if (pipFormat) {
            String text = PipRequirements.render(pinned, PipRequirements.indexUrl(mirror), List.of(
                    "Frozen by pinfleet from " + requirements + " against " + mirror + " for " + env.description()
                            + " at " + Instant.ofEpochMilli(clock.millis()) + ".",
                    "Install with: pip install --no-deps --require-hashes -r " + output.getFileName()));
            Json.writeAtomically(output, text.getBytes(StandardCharsets.UTF_8));
            print.summary("froze %d pin(s) from %s into %s (%d bytes of wheels%s%s)", pinned.size(), requirements,
                    output, bytes, skipped, deps);
            result(pinned.size(), bytes, read.skipped().size(), whole.shared(), null);
            return 0;
        }
        List<Artifact> artifacts = new ArrayList<>(pinned.stream().map(Freezer.Pinned::toArtifact).toList());
        if (appSpec != null && !appSpec.archives().isEmpty()) {
            artifacts.addAll(AppArchives.publish(app, appSpec.archives(), PublishTarget.open(mirror, tokenFile, clock),
                    user));
        }
        long now = clock.millis();
        NextSerialResponse issued = serial != null ? null : Serials.fromConfiguredController(controller, ctx, clock, app);
        Manifest.Builder m = Manifest.newBuilder()
                .setApp(app)
                .setSerial(serial != null ? serial : issued != null ? issued.getSerial() : now / 1000)
                .setCreated(Timestamps.fromMillis(now))
                .setExpires(Timestamps.fromMillis(now + Validity.parse(expiresIn).toMillis()))
                .setPython(minor)
                .setCompileBytecode(compileBytecode)
                .addAllArtifacts(artifacts);
        if (environment != null) {
            m.setEnvironment(environment);
        }
        if (appSpec != null && appSpec.hook() != null) {
            m.setPostSwitchHook(appSpec.hook());
        }
        if (appSpec != null && appSpec.health() != null) {
            m.setHealthCheck(appSpec.health());
        }
        Manifest manifest = m.build();
        try {
            ManifestCodec.validate(manifest);
        } catch (ManifestException e) {
            throw new CliException("frozen manifest is invalid: " + e.getMessage());
        }
        Json.writeAtomically(output, ManifestCodec.toJson(manifest));
        long archives = artifacts.size() - pinned.size();
        print.summary("froze %d pin(s)%s from %s into %s (%d bytes of wheels%s%s), serial %d%s, digest %s",
                pinned.size(), archives == 0 ? "" : " and " + archives + " code archive(s)", requirements, output, bytes,
                skipped, deps, manifest.getSerial(), issued == null ? ""
                        : " (from the controller; highest it knew: " + issued.getLastKnown() + ")",
                ManifestCodec.contentDigest(manifest));
        result(artifacts.size(), bytes, read.skipped().size(), whole.shared(), manifest);
        return 0;
    }

    /** The --json result: what was written, how much, and (for a manifest) its app, serial and digest. */
    private void result(int pins, long bytes, int skipped, List<String> shared, Manifest manifest) {
        print.result(o -> {
            o.addProperty("output", output.toString());
            o.addProperty("format", format);
            o.addProperty("pins", pins);
            o.addProperty("bytes", bytes);
            o.addProperty("skipped_by_markers", skipped);
            com.google.gson.JsonArray same = new com.google.gson.JsonArray();
            shared.forEach(same::add);
            o.add("shared", same);
            if (manifest != null) {
                o.addProperty("app", manifest.getApp());
                o.addProperty("serial", manifest.getSerial());
                o.addProperty("manifest_digest", ManifestCodec.contentDigest(manifest));
            }
        });
    }
}

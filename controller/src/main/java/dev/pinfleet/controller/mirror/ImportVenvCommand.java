package dev.pinfleet.controller.mirror;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.ScratchDir;
import dev.pinfleet.controller.publish.PublishTarget;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.pack.InstalledDist;
import dev.pinfleet.mirror.pack.WheelPacker;
import dev.pinfleet.mirror.publish.PublishResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `pinfleet mirror import-venv`: a virtualenv's installed distributions packed back into wheels, published, pinned. */
@Command(name = "import-venv", description = {
    "Move an existing virtualenv's packages onto a mirror and pin them.",
    "",
    "Packs every distribution installed in a virtualenv or site-packages directory back "
    + "into a wheel (from its RECORD), publishes the wheels to a mirror (as 'mirror "
    + "publish' does) and writes the pinned requirements with --hash for each: the "
    + "migration path off a vendor/ directory. Like 'pip freeze', pip, setuptools, wheel "
    + "and distribute are left out unless --all is given; --only imports just the named "
    + "distributions (tooling too, when named) and --exclude leaves the named ones out. Progress "
    + "goes to stderr, one line per packed wheel (-q or --json: none)."})
public final class ImportVenvCommand implements Callable<Integer> {
    /** pip freeze's default exclusions: the installer tooling, not the application. */
    static final Set<String> TOOLING = Set.of("pip", "setuptools", "wheel", "distribute");

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec CommandSpec spec;

    @Parameters(paramLabel = "PATH", description = "A virtualenv (its lib/pythonX.Y/site-packages is used) or a site-packages directory.")
    Path path;

    @Option(names = "--mirror", required = true, paramLabel = "DIR|URL", description = "Mirror directory or base URL to publish to.")
    String mirror;

    @Option(names = "--as", required = true, paramLabel = "USER", description = "Who publishes (recorded in the audit log).")
    String user;

    @Option(names = "--token-file", paramLabel = "FILE", description = "Upload token file; for a URL mirror.")
    Path tokenFile;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Pinned requirements to write (required).")
    Path output;

    @Option(names = "--requirements", hidden = true, paramLabel = "FILE", description = "Old spelling of --output.")
    Path requirementsOld;

    @Option(names = {"--exclude", "--skip"}, split = ",", paramLabel = "NAME",
            description = "Distributions to leave out, comma-separated (names compared normalized).")
    List<String> skip = new ArrayList<>();

    @Option(names = "--only", split = ",", paramLabel = "NAME",
            description = "Import only these distributions, comma-separated (names compared normalized); each must be installed.")
    List<String> only = new ArrayList<>();

    @Mixin OutputOptions print;

    @Option(names = "--all", description = "Also import pip, setuptools, wheel and distribute.")
    boolean all;

    private final Clock clock;

    public ImportVenvCommand(Clock clock) {
        this.clock = clock;
    }

    @Override
    public Integer call() throws Exception {
        PublishTarget target = PublishTarget.open(mirror, tokenFile, clock);
        Path site = sitePackages(path);
        Set<String> left = names(skip);
        Set<String> wanted = names(only);
        if (!all && wanted.isEmpty()) {
            left.addAll(TOOLING);
        }
        List<InstalledDist> installed = WheelPacker.scan(site);
        Set<String> missing = new java.util.TreeSet<>(wanted);
        installed.forEach(d -> missing.remove(Names.normalizeProject(d.name())));
        if (!missing.isEmpty()) {
            throw new CliException(site + ": --only names " + missing + ", not installed there; installed: "
                    + installed.stream().map(d -> d.name() + "==" + d.version()).sorted(String.CASE_INSENSITIVE_ORDER)
                    .toList(), 2);
        }
        List<InstalledDist> dists = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (InstalledDist d : installed) {
            String n = Names.normalizeProject(d.name());
            if (left.contains(n) || !wanted.isEmpty() && !wanted.contains(n)) {
                skipped.add(d.name() + "==" + d.version());
            } else {
                dists.add(d);
            }
        }
        if (dists.isEmpty()) {
            throw new CliException(site + ": no distributions to import" + (skipped.isEmpty() ? ""
                    : " (left out: " + skipped + (all || !wanted.isEmpty() ? "" : "; --all keeps pip, setuptools, wheel"
                    + " and distribute, --only NAME imports just NAME") + ")"));
        }
        AtomicInteger packed = new AtomicInteger();
        List<PublishResult> results;
        try (ScratchDir staging = ScratchDir.create("pinfleet-import")) {
            List<Path> wheels = WheelPacker.packAll(site, dists, staging.path(), Runtime.getRuntime().availableProcessors(),
                    wheel -> print.progress("packed " + packed.incrementAndGet() + "/" + dists.size() + " "
                            + wheel.getFileName()));
            print.progress("publishing " + wheels.size() + " wheel(s) to " + target.describe() + " (each checked as agents check it)");
            results = target.publish(wheels, user);
        }
        List<String> pins = new ArrayList<>();
        for (int i = 0; i < dists.size(); i++) {
            pins.add(dists.get(i).name() + "==" + dists.get(i).version() + " \\\n    --hash=sha256:"
                    + results.get(i).sha256());
        }
        pins.sort(String.CASE_INSENSITIVE_ORDER);
        StringBuilder text = new StringBuilder("# Pinned by pinfleet mirror import-venv from " + site + " at "
                + clock.instant().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + ";\n# each wheel is published on " + target.describe() + ".\n");
        if (!skipped.isEmpty()) {
            text.append("# Left out: ").append(String.join(", ", skipped)).append(all ? "" : " (--all keeps pip, "
                    + "setuptools, wheel and distribute)").append('\n');
        }
        pins.forEach(p -> text.append(p).append('\n'));
        Json.writeAtomically(requirements(), text.toString().getBytes(StandardCharsets.UTF_8));
        long published = results.stream().filter(r -> r.outcome() == PublishResult.Outcome.PUBLISHED).count();
        print.summary("packed %d distribution(s) from %s: %d published, %d already on %s; %d left out; pins in %s",
                dists.size(), site, published, dists.size() - published, target.describe(), skipped.size(),
                requirements());
        print.result(o -> {
            o.addProperty("site_packages", site.toString());
            o.addProperty("mirror", target.describe());
            o.addProperty("distributions", dists.size());
            o.addProperty("published", published);
            o.addProperty("already_there", dists.size() - published);
            com.google.gson.JsonArray leftOut = new com.google.gson.JsonArray();
            skipped.forEach(leftOut::add);
            o.add("left_out", leftOut);
            o.addProperty("output", requirements().toString());
        });
        return 0;
    }

    private static Set<String> names(List<String> list) {
        Set<String> out = new java.util.TreeSet<>();
        list.stream().filter(s -> !s.isBlank()).map(s -> Names.normalizeProject(s.strip())).forEach(out::add);
        return out;
    }

    static Path sitePackages(Path p) throws IOException {
        if (Files.isDirectory(p.resolve("lib"))) {
            try (var s = Files.list(p.resolve("lib"))) {
                for (Path lib : s.sorted().toList()) {
                    Path sp = lib.resolve("site-packages");
                    if (lib.getFileName().toString().startsWith("python") && Files.isDirectory(sp)) {
                        return sp;
                    }
                }
            }
        }
        if (Files.isRegularFile(p.resolve("pyvenv.cfg"))) {
            throw new CliException(p + " is a virtualenv without lib/pythonX.Y/site-packages");
        }
        if (Files.isDirectory(p)) {
            return p;
        }
        throw new CliException(p + " is neither a virtualenv nor a site-packages directory");
    }

    /** Where the pins go: -o/--output, or the older --requirements. */
    private Path requirements() {
        if (output == null && requirementsOld == null) {
            throw new CliException("where should the pins go? give -o/--output FILE", 2);
        }
        return output != null ? output : requirementsOld;
    }
}

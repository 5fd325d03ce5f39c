package dev.pinfleet.controller.mirror;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.controller.ScratchDir;
import dev.pinfleet.controller.freeze.Freezer;
import dev.pinfleet.controller.freeze.MarkerEnvironment;
import dev.pinfleet.controller.freeze.Pep440Version;
import dev.pinfleet.controller.freeze.Requirement;
import dev.pinfleet.controller.freeze.RequirementsFile;
import dev.pinfleet.controller.freeze.TargetOptions;
import dev.pinfleet.controller.publish.PublishTarget;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.wheel.Tags;
import dev.pinfleet.wheel.WheelFilename;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code pinfleet mirror pull}: exact pins brought from an upstream simple index onto the mirror, every byte checked. */
@Command(name = "pull", description = {
    "Bring pinned packages from an upstream index (PyPI, devpi, Artifactory, another pinfleet mirror) onto the mirror.",
    "",
    "Reads a requirements file (pip's format, as freeze does: exact pins only, a range or an unpinned name is an "
    + "error naming file:line; markers evaluated for --python and --platform), asks the index for each project's "
    + "page (PEP 691 JSON, or PEP 503 HTML when that is what the index serves), and downloads every wheel of the "
    + "pinned version that suits --python and --platform. Each file's sha256 must equal the index's (hashes / "
    + "#sha256=) and, when the requirement has --hash options, one of them; a file with neither to check against is "
    + "refused. All problems are listed at once and nothing is published then. Otherwise the files are published "
    + "into the mirror directory with the publisher's checks (the agents' wheel rules) under the mirror's sign-off "
    + "policy, each audit line naming the URL it came from. Progress goes to stderr, one line per file (-q or "
    + "--json: none); --json prints the result as one object."})
public final class PullCommand implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec CommandSpec spec;

    @Option(names = {"-r", "--requirement"}, required = true, paramLabel = "FILE", description = "Pinned requirements to pull.")
    Path requirements;

    @Option(names = "--index", required = true, paramLabel = "URL",
            description = "The upstream simple index, e.g. https://pypi.org/simple/ or http://mirror:8080/simple/.")
    String index;

    @Option(names = "--mirror", required = true, paramLabel = "DIR", description = "Mirror directory to publish into.")
    String mirror;

    @Option(names = "--as", required = true, paramLabel = "USER", description = "Who publishes (signed off the mirror's policy).")
    String user;

    @Mixin TargetOptions target;

    @Mixin OutputOptions print;

    private final Clock clock;

    public PullCommand(Clock clock) {
        this.clock = clock;
    }

    @Override
    public Integer call() throws IOException {
        if (!index.startsWith("http://") && !index.startsWith("https://")) {
            throw new CliException("--index '" + index + "' is not an http(s) URL of a simple index", 2);
        }
        MarkerEnvironment env = target.environment();
        Tags tags = target.tags();
        PublishTarget into = PublishTarget.open(mirror, null, clock);
        RequirementsFile.Result read = RequirementsFile.read(requirements, env);
        SimpleIndex upstream = new SimpleIndex(URI.create(index), HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10)).followRedirects(HttpClient.Redirect.NORMAL).build());
        List<String> problems = new ArrayList<>();
        Map<Path, String> sources = new LinkedHashMap<>();
        try (ScratchDir scratch = ScratchDir.create("pinfleet-pull")) {
            for (Requirement r : read.pins()) {
                pull(r, upstream, tags, env, scratch.path(), sources, problems);
            }
            if (!problems.isEmpty()) {
                throw new CliException(problems.size() + " problem(s) pulling from " + upstream.base()
                        + "; nothing was published:\n  " + String.join("\n  ", problems));
            }
            if (sources.isEmpty()) {
                throw new CliException(requirements + ": no pins for " + env.description());
            }
            print.progress("publishing " + sources.size() + " file(s) to " + into.describe()
                    + " (each checked as agents check it)");
            List<PublishResult> results = into.publishPulled(List.copyOf(sources.keySet()), user, sources);
            long published = results.stream().filter(x -> x.outcome() == PublishResult.Outcome.PUBLISHED).count();
            print.summary("pulled %d file(s) for %d pin(s) from %s: %d published, %d already on %s", results.size(),
                    read.pins().size(), upstream.base(), published, results.size() - published, into.describe());
            print.result(o -> {
                o.addProperty("index", upstream.base().toString());
                o.addProperty("mirror", into.describe());
                o.addProperty("pins", read.pins().size());
                o.addProperty("files", results.size());
                o.addProperty("published", published);
                o.addProperty("already_there", results.size() - published);
            });
            return 0;
        }
    }

    private void pull(Requirement r, SimpleIndex upstream, Tags tags, MarkerEnvironment env, Path scratch,
            Map<Path, String> sources, List<String> problems) {
        String where = r.source() + ": " + r.describe();
        if (r.vcs() != null) {
            problems.add(where + ": a git pin is not on an index; build its wheel and 'pinfleet mirror publish' it");
            return;
        }
        List<SimpleIndex.File> listed;
        try {
            listed = upstream.files(r.name());
        } catch (IOException e) {
            problems.add(where + ": " + e.getMessage());
            return;
        }
        Pep440Version wanted = Pep440Version.tryParse(r.version());
        List<SimpleIndex.File> chosen = new ArrayList<>();
        List<String> versionFiles = new ArrayList<>();
        for (SimpleIndex.File f : listed) {
            WheelFilename w;
            try {
                w = WheelFilename.parse(f.filename());
            } catch (IllegalArgumentException notAWheel) {
                continue;
            }
            if (!Names.normalizeProject(w.distribution()).equals(Names.normalizeProject(r.name()))
                    || !Freezer.isVersion(w, wanted, r.version())) {
                continue;
            }
            versionFiles.add(f.filename());
            if (tags.isCompatible(w)) {
                chosen.add(f);
            }
        }
        if (chosen.isEmpty()) {
            problems.add(where + ": " + (listed.isEmpty() ? "no project " + Names.normalizeProject(r.name()) + " on "
                    + upstream.base() : versionFiles.isEmpty() ? "no wheel of version " + r.version() + " on "
                    + upstream.page(r.name()) : "no wheel for " + env.description() + " (the index has " + versionFiles + ")"));
            return;
        }
        for (SimpleIndex.File f : chosen) {
            if (f.sha256().isEmpty() && r.hashes().isEmpty()) {
                problems.add(where + ": " + f.filename() + ": the index gives no sha256 and the requirement has no "
                        + "--hash=sha256:…, so its bytes cannot be checked; add the --hash");
                continue;
            }
            SimpleIndex.Download d;
            try {
                d = upstream.download(f, Files.createDirectories(scratch.resolve(String.valueOf(sources.size()))));
            } catch (IOException e) {
                problems.add(where + ": " + e.getMessage());
                continue;
            }
            if (!f.sha256().isEmpty() && !f.sha256().equals(d.sha256())) {
                problems.add(where + ": " + f.url() + ": the index says sha256 " + f.sha256() + " but the bytes served "
                        + "have " + d.sha256());
            } else if (!r.hashes().isEmpty() && !r.hashes().contains(d.sha256())) {
                problems.add(where + ": " + f.filename() + " has sha256 " + d.sha256() + ", not one of the requirement's "
                        + "--hash values " + r.hashes());
            } else {
                sources.put(d.path(), f.url().toString());
                print.progress("pulled " + f.filename() + " (" + d.size() + " bytes, sha256 " + d.sha256() + ") from "
                        + f.url());
            }
        }
    }
}

package dev.pinfleet.controller.mirror;

import dev.pinfleet.controller.CliException;
import dev.pinfleet.controller.Json;
import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.pack.InstalledDist;
import dev.pinfleet.mirror.pack.WheelPacker;
import dev.pinfleet.mirror.publish.PublishException;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** `pinfleet mirror …`: serve, publish to and fill the internal package mirror. */
@Command(name = "mirror", description = "The internal package mirror: plain files plus a PEP 503 index.",
        subcommands = {MirrorCommands.Serve.class, MirrorCommands.Publish.class, MirrorCommands.ImportVenv.class,
            MirrorCommands.Index.class})
public final class MirrorCommands implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 2;
    }

    @Command(name = "serve", description = {"Serve a mirror directory over HTTP (GET, HEAD, Range; /simple/ index; /metrics).",
        "Runs until interrupted."})
    public static final class Serve implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "DIR", description = "Mirror directory.")
        Path dir;

        @Option(names = "--port", defaultValue = "8080", description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
        String bind;

        @Option(names = "--port-file", paramLabel = "FILE", description = "Write the bound port to this file once listening.")
        Path portFile;

        @Override
        public Integer call() throws Exception {
            if (!Files.isDirectory(dir)) {
                throw new CliException("mirror directory " + dir + " does not exist");
            }
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            MirrorServer server = new MirrorServer(dir, new InetSocketAddress(bind, port), registry);
            int bound = server.start();
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                stop.countDown();
            }, "mirror-shutdown"));
            if (portFile != null) {
                Json.writeAtomically(portFile, (bound + "\n").getBytes(StandardCharsets.US_ASCII));
            }
            spec.commandLine().getOut().printf("serving %s on http://%s:%d/ (index at /simple/)%n", dir, bind, bound);
            spec.commandLine().getOut().flush();
            stop.await();
            return 0;
        }
    }

    @Command(name = "publish", description = {"Publish files to a mirror directory: validated, append-only, audited.",
        "A file name once published never changes bytes; publishing the same bytes again is a no-op."})
    public static final class Publish implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "FILE", arity = "1..*", description = "Wheels to publish.")
        List<Path> files;

        @Option(names = "--mirror", required = true, paramLabel = "DIR", description = "Mirror directory.")
        Path mirror;

        @Option(names = "--as", required = true, paramLabel = "USER", description = "Who publishes (recorded in the audit log).")
        String user;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            for (PublishResult r : publish(mirror, files, user)) {
                out.printf("%-9s %s sha256 %s (%d bytes)%n", r.outcome() == PublishResult.Outcome.PUBLISHED
                        ? "published" : "unchanged", r.file(), r.sha256(), r.size());
            }
            out.flush();
            return 0;
        }
    }

    /** Audit-log policy version while the mirror has no upload policy file (recorded as empty). */
    static final String NO_POLICY = "";

    static List<PublishResult> publish(Path mirror, List<Path> files, String user) throws IOException {
        Files.createDirectories(mirror);
        try {
            return new Publisher().publishAll(mirror, files, user, NO_POLICY);
        } catch (PublishException e) {
            throw new CliException(e.getMessage());
        }
    }

    @Command(name = "index", description = "Rewrite the static PEP 503 index (simple/**/index.html) of a mirror directory.")
    public static final class Index implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", description = "Mirror directory.")
        Path dir;

        @Override
        public Integer call() throws IOException {
            MirrorIndex.rebuild(dir);
            return 0;
        }
    }

    @Command(name = "import-venv", description = {
        "Pack every distribution installed in a virtualenv or site-packages directory back into a wheel",
        "(from its RECORD), publish the wheels to a mirror and write the pinned requirements:",
        "the migration path off a vendor/ directory."})
    public static final class ImportVenv implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Parameters(paramLabel = "PATH", description = "A virtualenv (its lib/pythonX.Y/site-packages is used) or a site-packages directory.")
        Path path;

        @Option(names = "--mirror", required = true, paramLabel = "DIR", description = "Mirror directory to publish into.")
        Path mirror;

        @Option(names = "--as", required = true, paramLabel = "USER", description = "Who publishes (recorded in the audit log).")
        String user;

        @Option(names = {"-o", "--requirements"}, required = true, paramLabel = "FILE", description = "Pinned requirements to write.")
        Path requirements;

        @Option(names = "--skip", split = ",", description = "Distributions to leave out (default: none).")
        List<String> skip = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            Path site = sitePackages(path);
            List<InstalledDist> dists = new ArrayList<>(WheelPacker.scan(site));
            dists.removeIf(d -> skip.stream().anyMatch(s -> dev.pinfleet.manifest.Names.normalizeProject(s)
                    .equals(dev.pinfleet.manifest.Names.normalizeProject(d.name()))));
            Path staging = Files.createTempDirectory("pinfleet-import");
            try {
                List<Path> wheels = WheelPacker.packAll(site, dists, staging, Runtime.getRuntime().availableProcessors());
                publish(mirror, wheels, user);
            } finally {
                try (var s = Files.walk(staging)) {
                    s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            StringBuilder pins = new StringBuilder("# pinned by pinfleet mirror import-venv from " + site + "\n");
            dists.stream().map(d -> d.name() + "==" + d.version()).sorted(String.CASE_INSENSITIVE_ORDER)
                    .forEach(p -> pins.append(p).append('\n'));
            Json.writeAtomically(requirements, pins.toString().getBytes(StandardCharsets.UTF_8));
            spec.commandLine().getOut().printf("packed and published %d distribution(s) from %s into %s; pins in %s%n",
                    dists.size(), site, mirror, requirements);
            spec.commandLine().getOut().flush();
            return 0;
        }

        static Path sitePackages(Path p) throws IOException {
            if (Files.isDirectory(p.resolve("lib"))) {
                try (var s = Files.list(p.resolve("lib"))) {
                    for (Path lib : s.toList()) {
                        Path sp = lib.resolve("site-packages");
                        if (lib.getFileName().toString().startsWith("python") && Files.isDirectory(sp)) {
                            return sp;
                        }
                    }
                }
            }
            if (Files.isDirectory(p)) {
                return p;
            }
            throw new CliException(p + " is neither a virtualenv nor a site-packages directory");
        }
    }
}

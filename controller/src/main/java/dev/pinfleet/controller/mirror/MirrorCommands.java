package dev.pinfleet.controller.mirror;

import dev.pinfleet.controller.CliException;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.pinfleet.controller.Json;
import dev.pinfleet.controller.publish.PublishTarget;
import dev.pinfleet.controller.OutputOptions;
import dev.pinfleet.mirror.MirrorIndex;
import dev.pinfleet.mirror.audit.Finding;
import dev.pinfleet.mirror.audit.MirrorVerifier;
import dev.pinfleet.mirror.audit.VerifyReport;
import dev.pinfleet.mirror.policy.PolicyException;
import dev.pinfleet.mirror.policy.UploadPolicy;
import dev.pinfleet.mirror.policy.Uploaders;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.mirror.serve.MirrorServer;
import dev.pinfleet.mirror.serve.UploadSettings;
import dev.pinfleet.mirror.serve.UploadTokens;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import dev.pinfleet.controller.client.Terminal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** `pinfleet mirror …`: lay out, sign off, serve, publish to, verify and fill the internal package mirror. */
@Command(name = "mirror", description = {
    "The internal package mirror: lay out, sign off, publish, serve, verify.",
    "",
    "Plain files plus a PEP 503 index, append-only publishing under a signed-off upload "
    + "policy, and an audit log.",
    "",
    "Typical flow: init -> acknowledge (each uploader) -> publish | import-venv | pull -> serve "
    + "(or nginx) -> verify."},
        subcommands = {MirrorCommands.Init.class, MirrorCommands.Acknowledge.class, MirrorCommands.Publish.class,
            ImportVenvCommand.class, MirrorCommands.Serve.class, MirrorCommands.Token.class,
            MirrorCommands.Verify.class, MirrorCommands.Index.class, NginxConfCommand.class, PullCommand.class})
public final class MirrorCommands implements Callable<Integer> {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 2;
    }

    @Command(name = "init", description = {
        "Lay out a mirror directory with a default upload policy.",
        "",
        "Creates packages/, the static index simple/, the upload policy policy/POLICY.md with "
        + "its version in policy/version (1), and an empty uploaders file. Existing files are "
        + "never overwritten. Edit the policy to your company's rules before anyone signs it "
        + "off; to change it later, edit the text and write a new version: every uploader then "
        + "signs off again."})
    public static final class Init implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Spec CommandSpec spec;

        @Mixin MirrorDir mirror;

        @Option(names = "--policy", paramLabel = "FILE", description = "Policy text to install instead of the default one.")
        Path policy;

        @Mixin OutputOptions print;

        @Override
        public Integer call() throws IOException {
            Path dir = mirror.get();
            String text = policy == null ? null : Files.readString(policy, StandardCharsets.UTF_8);
            List<String> created = UploadPolicy.init(dir, text);
            String version = version(dir);
            if (created.isEmpty()) {
                print.summary("mirror %s is already laid out; nothing changed", dir);
            } else {
                print.summary("laid out mirror %s: created %s", dir, String.join(", ", created));
            }
            print.line("upload policy: %s (version %s)", UploadPolicy.policyFile(dir), version);
            print.line("each uploader signs it off with: pinfleet mirror acknowledge --mirror %s --as USER"
                    + " --policy-version %s", dir, version);
            print.result(o -> {
                o.addProperty("mirror", dir.toString());
                JsonArray made = new JsonArray();
                created.forEach(made::add);
                o.add("created", made);
                o.addProperty("policy_file", UploadPolicy.policyFile(dir).toString());
                o.addProperty("policy_version", version);
            });
            return 0;
        }
    }

    @Command(name = "acknowledge", description = {
        "Sign off the mirror's upload policy (required before publishing).",
        "",
        "Without --policy-version, shows the policy and its version, then (on a terminal) asks "
        + "you to type that version to sign it off, or prints the command that does; with it "
        + "(the version you read, which must be the current one), records in DIR/uploaders that "
        + "USER acknowledged it. Only users who acknowledged the current version may publish."})
    public static final class Acknowledge implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Spec CommandSpec spec;

        @Mixin MirrorDir mirror;

        @Option(names = "--as", required = true, paramLabel = "USER", description = "Who signs off.")
        String user;

        @Option(names = "--policy-version", paramLabel = "VERSION", description = "The policy version you read and accept.")
        String policyVersion;

        private final Clock clock;
        private final Terminal terminal;

        public Acknowledge(Clock clock, Terminal terminal) {
            this.clock = clock;
            this.terminal = terminal;
        }

        @Override
        public Integer call() throws IOException {
            Path dir = mirror.get();
            UploadPolicy policy = loadPolicy(dir);
            PrintWriter out = spec.commandLine().getOut();
            if (policyVersion == null) {
                out.printf("Upload policy of mirror %s, version %s (%s):%n%n", dir, policy.version(), policy.policyFile());
                out.println(Files.readString(policy.policyFile(), StandardCharsets.UTF_8).stripTrailing());
                out.println();
                if (!terminal.interactive()) {
                    out.printf("to sign it off, run: pinfleet mirror acknowledge --mirror %s --as %s --policy-version %s%n",
                            dir, user, policy.version());
                    out.flush();
                    return 0;
                }
                out.printf("to sign it off as %s, type its version (%s); anything else leaves it: ", user, policy.version());
                out.flush();
                String answer = terminal.readLine();
                if (answer == null || !answer.strip().equals(policy.version())) {
                    out.println("not signed off");
                    out.flush();
                    return 1;
                }
                policyVersion = answer.strip();
            }
            Uploaders.Entry e;
            try {
                e = Uploaders.acknowledge(dir, user, policyVersion, clock.instant());
            } catch (PolicyException ex) {
                throw new CliException(ex.getMessage());
            }
            out.printf("%s signed off upload policy version %s of mirror %s at %s (%s:%d)%n", e.user(),
                    e.policyVersion(), dir, e.time(), Uploaders.file(dir), e.line());
            out.flush();
            return 0;
        }
    }

    @Command(name = "publish", description = {
        "Publish wheels to a mirror directory or a mirror server.",
        "",
        "Validated, append-only, audited, and only by users who signed off the mirror's "
        + "current upload policy. A file name once published never changes bytes; publishing "
        + "the same bytes again is a no-op. --mirror is a directory, or the URL of a 'pinfleet "
        + "mirror serve --tokens' (then --token-file is required)."})
    public static final class Publish implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Spec CommandSpec spec;

        @Parameters(paramLabel = "FILE", arity = "1..*", description = "Wheels to publish.")
        List<Path> files;

        @Option(names = "--mirror", required = true, paramLabel = "DIR|URL", description = "Mirror directory or base URL.")
        String mirror;

        @Option(names = "--as", required = true, paramLabel = "USER", description = "Who publishes (recorded in the audit log).")
        String user;

        @Option(names = "--token-file", paramLabel = "FILE", description = "File holding your upload token (mode 0600); for a URL mirror.")
        Path tokenFile;

        @Mixin OutputOptions print;

        private final Clock clock;

        public Publish(Clock clock) {
            this.clock = clock;
        }

        @Override
        public Integer call() throws IOException {
            PublishTarget target = PublishTarget.open(mirror, tokenFile, clock);
            List<PublishResult> results = target.publish(files, user);
            JsonArray list = new JsonArray();
            for (PublishResult r : results) {
                String outcome = r.outcome() == PublishResult.Outcome.PUBLISHED ? "published" : "unchanged";
                print.line("%-9s %s sha256 %s (%d bytes)", outcome, r.file(), r.sha256(), r.size());
                JsonObject o = new JsonObject();
                o.addProperty("outcome", outcome);
                o.addProperty("file", r.file());
                o.addProperty("sha256", r.sha256());
                o.addProperty("size", r.size());
                list.add(o);
            }
            long published = results.stream().filter(r -> r.outcome() == PublishResult.Outcome.PUBLISHED).count();
            print.summary("%d file(s) published, %d unchanged", published, results.size() - published);
            print.result(o -> o.add("files", list));
            return 0;
        }
    }

    @Command(name = "verify", description = {
        "Check every file of a mirror directory against its audit log.",
        "",
        "Re-hashes every file and lists tampered, missing and unlogged files (and unreadable "
        + "audit lines, symbolic links anywhere in DIR, stale index pages). Exit code 1 when anything is found."})
    public static final class Verify implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Spec CommandSpec spec;

        @Mixin MirrorDir mirror;

        @Mixin OutputOptions print;

        @Override
        public Integer call() throws IOException {
            Path dir = mirror.get();
            if (!Files.isDirectory(dir)) {
                throw new CliException("mirror directory " + dir + " does not exist");
            }
            VerifyReport r = MirrorVerifier.verify(dir);
            r.findings().forEach(f -> print.line("%s", f));
            StringBuilder counts = new StringBuilder();
            JsonObject byKind = new JsonObject();
            for (Finding.Kind k : Finding.Kind.values()) {
                long n = r.count(k);
                String kind = k.name().toLowerCase(java.util.Locale.ROOT);
                byKind.addProperty(kind, n);
                if (n > 0) {
                    counts.append(counts.length() == 0 ? "" : ", ").append(n).append(' ').append(kind.replace('_', '-'));
                }
            }
            print.summary("%s: %d file(s) checked against %d audit record(s): %s", dir, r.filesChecked(),
                    r.auditRecords(), r.ok() ? "ok" : counts);
            print.result(o -> {
                o.addProperty("mirror", dir.toString());
                o.addProperty("ok", r.ok());
                o.addProperty("files_checked", r.filesChecked());
                o.addProperty("audit_records", r.auditRecords());
                o.add("findings_by_kind", byKind);
                JsonArray findings = new JsonArray();
                r.findings().forEach(f -> findings.add(f.toString()));
                o.add("findings", findings);
            });
            return r.ok() ? 0 : 1;
        }
    }

    @Command(name = "serve", description = {
        "Serve a mirror directory over HTTP, optionally accepting uploads.",
        "",
        "GET, HEAD, Range of regular files only (no link is followed, as in 'mirror nginx-conf'); the "
        + "/simple/ index in HTML or PEP 691 JSON; /metrics. With --tokens, also accepts uploads: PUT "
        + "/upload/<wheel> with Basic credentials USER:TOKEN, checked and published like 'mirror publish' "
        + "(the mirror needs an upload policy, and the server write access to DIR). Runs until interrupted."})
    public static final class Serve implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Spec CommandSpec spec;

        @Mixin MirrorDir mirror;

        @Option(names = "--port", defaultValue = "8080", description = "TCP port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(names = "--bind", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
        String bind;

        @Option(names = "--port-file", paramLabel = "FILE", description = "Write the bound port to this file once listening.")
        Path portFile;

        @Option(names = "--tokens", paramLabel = "FILE",
                description = "Turn uploads on: lines 'USER SHA256-OF-TOKEN' (see 'pinfleet mirror token'). Read at start.")
        Path tokens;

        @Option(names = "--max-upload-mb", defaultValue = "1024", paramLabel = "MB",
                description = "Largest upload accepted, in MiB (default: ${DEFAULT-VALUE}).")
        long maxUploadMb;

        private final Clock clock;

        public Serve(Clock clock) {
            this.clock = clock;
        }

        @Override
        public Integer call() throws Exception {
            Path dir = mirror.get();
            if (!Files.isDirectory(dir)) {
                throw new CliException("mirror directory " + dir + " does not exist");
            }
            if (maxUploadMb < 1) {
                throw new CliException("--max-upload-mb must be at least 1", 2);
            }
            UploadSettings uploads = null;
            if (tokens != null) {
                uploads = new UploadSettings(UploadTokens.read(tokens), maxUploadMb << 20, new Publisher(clock));
            }
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            MirrorServer server = new MirrorServer(dir, new InetSocketAddress(bind, port), registry,
                    MirrorServer.Options.defaults(), uploads);
            int bound = server.start();
            CountDownLatch stop = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                stop.countDown();
            }, "mirror-shutdown"));
            if (portFile != null) {
                Json.writeAtomically(portFile, (bound + "\n").getBytes(StandardCharsets.US_ASCII));
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("serving %s on http://%s:%d/ (index at /simple/)%n", dir, bind, bound);
            if (uploads != null) {
                out.printf("uploads on at /upload/ for %d user(s) in %s, up to %d MiB each, under upload policy "
                        + "version %s%n", uploads.tokens().users().size(), tokens, maxUploadMb, version(dir));
            }
            out.flush();
            stop.await();
            return 0;
        }
    }

    @Command(name = "token", description = {
        "Make an upload token for 'mirror serve --tokens'.",
        "",
        "Writes the token to --token-file (mode 0600, for the uploader) and appends 'USER "
        + "SHA256-OF-TOKEN' to --tokens (for 'mirror serve'; restart it to pick the new line "
        + "up). The tokens file holds digests only."})
    public static final class Token implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
        boolean help;

        @Spec CommandSpec spec;

        @Parameters(paramLabel = "USER", description = "Who the token is for.")
        String user;

        @Option(names = "--token-file", required = true, paramLabel = "FILE", description = "Where to write the new token (must not exist).")
        Path tokenFile;

        @Option(names = "--tokens", required = true, paramLabel = "FILE", description = "The server's tokens file to append to (created if missing).")
        Path tokens;

        @Mixin OutputOptions print;

        @Override
        public Integer call() throws IOException {
            if (Uploaders.checkUser(user) != null) {
                throw new CliException(Uploaders.checkUser(user), 2);
            }
            String token = UploadTokens.newToken();
            try {
                Files.createFile(tokenFile.toAbsolutePath(),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (FileAlreadyExistsException e) {
                throw new CliException("token file " + tokenFile + " already exists; choose another path");
            }
            Files.writeString(tokenFile, token + "\n", StandardCharsets.UTF_8);
            try (FileChannel ch = FileChannel.open(tokens, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND), PosixFilePermissions.asFileAttribute(
                            PosixFilePermissions.fromString("rw-r-----")))) {
                ch.write(java.nio.ByteBuffer.wrap((UploadTokens.line(user, token) + "\n").getBytes(StandardCharsets.UTF_8)));
                ch.force(false);
            }
            print.summary("token for %s written to %s; %s lists its sha256 (restart 'mirror serve' to accept it)", user,
                    tokenFile, tokens);
            print.result(o -> { // the token itself stays in its file: standard output ends up in logs
                o.addProperty("user", user);
                o.addProperty("token_file", tokenFile.toString());
                o.addProperty("tokens", tokens.toString());
            });
            return 0;
        }
    }

    @Command(name = "index", mixinStandardHelpOptions = true,
            description = "Rewrite the static PEP 503 index (simple/**/index.html) of a mirror directory.")
    public static final class Index implements Callable<Integer> {
        @Spec CommandSpec spec;

        @Mixin MirrorDir mirror;

        @Mixin OutputOptions print;

        @Override
        public Integer call() throws IOException {
            Path dir = mirror.get();
            MirrorIndex.rebuild(dir);
            print.summary("rewrote the index of mirror %s (simple/)", dir);
            print.result(o -> {
                o.addProperty("mirror", dir.toString());
                o.addProperty("index", dir.resolve("simple").toString());
            });
            return 0;
        }
    }

    private static UploadPolicy loadPolicy(Path dir) throws IOException {
        try {
            return UploadPolicy.load(dir);
        } catch (PolicyException e) {
            throw new CliException(e.getMessage());
        }
    }

    private static String version(Path dir) throws IOException {
        return loadPolicy(dir).version();
    }
}

package dev.pinfleet.controller.publish;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.pinfleet.controller.CliException;
import dev.pinfleet.json.ProtoJson;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.publish.PublishException;
import dev.pinfleet.mirror.publish.PublishResult;
import dev.pinfleet.mirror.publish.Publisher;
import dev.pinfleet.proto.v1.UploadResult;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where {@code pinfleet mirror publish} and {@code import-venv} put wheels: a mirror directory on this machine
 * (published directly, under its sign-off policy) or a {@code pinfleet mirror serve --tokens} over HTTP
 * ({@code PUT /upload/<file>} with Basic credentials {@code USER:TOKEN}; the server applies the same checks
 * and policy). Either way every file is validated locally before anything is sent, so an invalid file in a
 * batch stops the batch before the first upload.
 */
public interface PublishTarget {

    /** Publishes {@code files} as {@code user}; results in file order. */
    List<PublishResult> publish(List<Path> files, String user) throws IOException;

    /**
     * Publishes {@code files} pulled from another index, each audit line naming its source URL ({@code sources}).
     * Only a mirror directory records sources; over HTTP this is refused.
     */
    default List<PublishResult> publishPulled(List<Path> files, String user, Map<Path, String> sources) throws IOException {
        throw new CliException("files pulled from an index are published into a mirror directory (run on the mirror's "
                + "host with --mirror DIR), so that each audit line names its source; " + describe() + " is a URL");
    }

    /** The mirror as the operator named it. */
    String describe();

    /**
     * The target for {@code mirror}: an {@code http(s)://} base URL (then {@code tokenFile} is required) or a
     * directory.
     */
    static PublishTarget open(String mirror, Path tokenFile, Clock clock) {
        if (mirror.startsWith("http://") || mirror.startsWith("https://")) {
            if (tokenFile == null) {
                throw new CliException("publishing to " + mirror + " needs --token-file (the token 'pinfleet mirror "
                        + "token' made for you)", 2);
            }
            return new Http(URI.create(mirror.endsWith("/") ? mirror : mirror + "/"), readToken(tokenFile));
        }
        if (tokenFile != null) {
            throw new CliException("--token-file is for publishing over HTTP; " + mirror + " is a directory", 2);
        }
        return new Local(Path.of(mirror), new Publisher(clock));
    }

    /**
     * Reads a token file: one line, the token. Refused when group or others may read it.
     */
    static String readToken(Path file) {
        try {
            try {
                Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
                if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
                    throw new CliException("token file " + file + " is readable by group or others; chmod 600 " + file);
                }
            } catch (UnsupportedOperationException notPosix) {
                // nothing to check on this file system
            }
            String token = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (token.isEmpty() || token.contains("\n") || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
                throw new CliException("token file " + file + " must hold one token: printable ASCII, no spaces");
            }
            return token;
        } catch (IOException e) {
            throw new CliException("token file " + file + ": cannot read: " + e.getMessage());
        }
    }

    /** A mirror directory on this machine. */
    final class Local implements PublishTarget {
        private final Path dir;
        private final Publisher publisher;

        Local(Path dir, Publisher publisher) {
            this.dir = dir;
            this.publisher = publisher;
        }

        @Override
        public List<PublishResult> publish(List<Path> files, String user) throws IOException {
            try {
                return publisher.publishSignedOff(dir, files, user);
            } catch (PublishException e) {
                throw new CliException(e.getMessage());
            }
        }

        @Override
        public List<PublishResult> publishPulled(List<Path> files, String user, Map<Path, String> sources)
                throws IOException {
            try {
                return publisher.publishSignedOff(dir, files, user, sources);
            } catch (PublishException e) {
                throw new CliException(e.getMessage());
            }
        }

        @Override
        public String describe() {
            return dir.toString();
        }
    }

    /** A {@code pinfleet mirror serve --tokens} over HTTP. */
    final class Http implements PublishTarget {
        private final URI base;
        private final String token;
        private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();

        Http(URI base, String token) {
            this.base = base;
            this.token = token;
        }

        @Override
        public List<PublishResult> publish(List<Path> files, String user) throws IOException {
            for (Path f : files) {
                try {
                    Publisher.validate(f, f.getFileName().toString());
                } catch (PublishException e) {
                    throw new CliException(f + ": not sent to " + base + ", nothing of this batch was: " + e.getMessage());
                }
            }
            String auth = "Basic " + Base64.getEncoder().encodeToString((user + ":" + token)
                    .getBytes(StandardCharsets.UTF_8));
            List<PublishResult> out = new ArrayList<>();
            for (Path f : files) {
                String name = f.getFileName().toString();
                URI target = base.resolve("upload/" + URLEncoder.encode(name, StandardCharsets.UTF_8));
                HttpResponse<String> resp;
                try {
                    resp = client.send(HttpRequest.newBuilder(target).timeout(Duration.ofMinutes(10))
                            .header("Authorization", auth).PUT(HttpRequest.BodyPublishers.ofFile(f)).build(),
                            HttpResponse.BodyHandlers.ofString());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while uploading " + f + " to " + target, e);
                } catch (IOException e) {
                    throw new IOException("cannot upload " + f + " to " + target + ": " + e.getMessage()
                            + done(out), e);
                }
                if (resp.statusCode() != 200 && resp.statusCode() != 201) {
                    throw new CliException("mirror " + base + " refused " + name + " (HTTP " + resp.statusCode() + "): "
                            + Names.printable(resp.body().strip()) + done(out));
                }
                UploadResult json;
                try {
                    json = ProtoJson.parse(resp.body().strip(), UploadResult.newBuilder()).build();
                } catch (InvalidProtocolBufferException e) {
                    throw new IOException("mirror " + base + " answered the upload of " + name + " with HTTP "
                            + resp.statusCode() + " but an unreadable body: " + e.getMessage());
                }
                String sha = Hashing.sha256Hex(f);
                if (!sha.equals(json.getSha256())) {
                    throw new IOException("mirror " + base + " reports sha256 " + Names.printable(json.getSha256())
                            + " for " + name + ", but the file sent has " + sha);
                }
                out.add(new PublishResult(json.getFile(), sha, Files.size(f),
                        resp.statusCode() == 201 ? PublishResult.Outcome.PUBLISHED : PublishResult.Outcome.UNCHANGED));
            }
            return out;
        }

        private static String done(List<PublishResult> out) {
            return out.isEmpty() ? "" : " (already published in this batch: "
                    + out.stream().map(PublishResult::file).toList() + ")";
        }

        @Override
        public String describe() {
            return base.toString();
        }
    }
}

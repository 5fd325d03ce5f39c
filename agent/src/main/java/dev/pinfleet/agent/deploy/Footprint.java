package dev.pinfleet.agent.deploy;

import dev.pinfleet.agent.fetch.ContentStore;
import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactKind;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The bytes artifacts take on this node, as the {@code store-max-bytes} cap counts them: the store entry (exactly
 * the artifact's size) plus, for a wheel, its unpacked cache entry (the sum of the file sizes its cache
 * {@code index} lists, which is what the cache itself counts). A sum over the artifacts every kept release
 * references equals the store plus cache bytes after the garbage collection has freed the rest.
 *
 * <p>For an artifact of a release not built yet ({@link DeployEngine#plan}), whatever is not on the node yet is
 * estimated: the download size for the store entry and, for a wheel not unpacked yet, the download size again for
 * the cache entry (its unpacked size is known only once it is fetched).
 */
final class Footprint {
    /** First line of a cache entry's index in the format this class reads. */
    private static final String INDEX_FORMAT = "pinfleet-wheel-index 1";

    private final ContentStore store;
    private final Path wheels;
    /** Unpacked bytes per cached sha256; an entry never changes once it is in place. */
    private final Map<String, Long> unpacked = new ConcurrentHashMap<>();

    Footprint(Path root, ContentStore store) {
        this.store = store;
        this.wheels = root.resolve("cache").resolve("wheels");
    }

    /**
     * Bytes of the union of {@code artifacts} (each sha256 once).
     *
     * @param incoming sha256 values of a release not built yet: absent ones are estimated, not counted as 0
     */
    long of(Collection<Artifact> artifacts, Set<String> incoming) throws IOException {
        Map<String, Artifact> bySha = new java.util.HashMap<>();
        for (Artifact a : artifacts) {
            bySha.putIfAbsent(a.getSha256(), a);
        }
        long sum = 0;
        for (Artifact a : bySha.values()) {
            sum += of(a, incoming.contains(a.getSha256()));
        }
        return sum;
    }

    private long of(Artifact a, boolean estimate) throws IOException {
        long bytes = estimate || store.contains(a.getSha256(), a.getSize()) ? a.getSize() : 0;
        if (a.getKind() == ArtifactKind.WHEEL && a.getFilename().endsWith(".whl")) {
            Long cached = cacheBytes(a.getSha256());
            bytes += cached != null ? cached : estimate ? a.getSize() : 0;
        }
        return bytes;
    }

    /** Unpacked bytes of the cache entry of {@code sha256}, or null when it is not in the cache. */
    Long cacheBytes(String sha256) throws IOException {
        Long known = unpacked.get(sha256);
        Path index = wheels.resolve(sha256.substring(0, 2)).resolve(sha256).resolve("index");
        if (known != null && Files.exists(index)) {
            return known;
        }
        long sum = 0;
        try (BufferedReader r = Files.newBufferedReader(index, StandardCharsets.UTF_8)) {
            if (!INDEX_FORMAT.equals(r.readLine())) {
                return null;
            }
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("F\t")) {
                    String[] f = line.split("\t", 4);
                    sum += Long.parseLong(f[2]);
                }
            }
        } catch (NoSuchFileException e) {
            unpacked.remove(sha256);
            return null;
        } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
            throw new IOException(index + ": unreadable cache index line: " + e.getMessage(), e);
        }
        unpacked.put(sha256, sum);
        return sum;
    }
}

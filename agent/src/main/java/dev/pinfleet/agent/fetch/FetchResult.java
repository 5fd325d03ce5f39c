package dev.pinfleet.agent.fetch;

import dev.pinfleet.proto.v1.Artifact;
import dev.pinfleet.proto.v1.ArtifactResult;
import dev.pinfleet.proto.v1.Source;

/**
 * How one artifact got into the content store.
 *
 * @param filename     artifact file name as in the manifest
 * @param sha256       SHA-256 of the bytes in the store, lowercase hex (computed while downloading; for
 *                     {@link Source#STORE} the name of the entry, trusted because only verified bytes are committed)
 * @param bytes        size of the artifact, in bytes
 * @param source       {@link Source#STORE} when it was already present, {@link Source#MIRROR} when downloaded
 * @param url          full URL the bytes came from; empty for the store
 * @param tries        download attempts made over all mirrors; 0 for the store
 * @param fetchMillis  wall time from the first attempt to the commit, back-offs included, in milliseconds
 * @param verifyMillis time spent hashing, in milliseconds (streams with the download, so included in fetchMillis)
 * @param resumed      true when the bytes that completed the file continued a cut download (HTTP 206)
 */
public record FetchResult(String filename, String sha256, long bytes, Source source, String url, int tries,
                          long fetchMillis, long verifyMillis, boolean resumed) {

    /** The result for an artifact already in the store. */
    public static FetchResult fromStore(Artifact a) {
        return new FetchResult(a.getFilename(), a.getSha256(), a.getSize(), Source.STORE, "", 0, 0, 0, false);
    }

    /** The wire form (install_ms left 0 for the installer to fill in). */
    public ArtifactResult toProto() {
        return ArtifactResult.newBuilder()
                .setFilename(filename)
                .setSha256(sha256)
                .setBytes(bytes)
                .setSource(source)
                .setUrl(url)
                .setFetchMs(fetchMillis)
                .setVerifyMs(verifyMillis)
                .setTries(tries)
                .build();
    }
}

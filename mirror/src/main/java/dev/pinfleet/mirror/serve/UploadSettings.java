package dev.pinfleet.mirror.serve;

import dev.pinfleet.mirror.publish.Publisher;

/**
 * Turns on the HTTP upload endpoint of {@link MirrorServer}: {@code PUT /upload/<wheel file name>} with HTTP
 * Basic credentials {@code USER:TOKEN}. Without settings the server is read-only.
 *
 * @param tokens    who may authenticate
 * @param maxBytes  largest request body accepted, in bytes (larger gets 413)
 * @param publisher publishes the uploaded file (its clock stamps the audit lines)
 */
public record UploadSettings(UploadTokens tokens, long maxBytes, Publisher publisher) {
    /** Default body limit: 1 GiB (large native wheels are hundreds of megabytes). */
    public static final long DEFAULT_MAX_BYTES = 1L << 30;

    public UploadSettings {
        if (tokens == null || publisher == null) {
            throw new IllegalArgumentException("tokens and publisher are required");
        }
        if (maxBytes < 1) {
            throw new IllegalArgumentException("maxBytes must be positive");
        }
    }
}

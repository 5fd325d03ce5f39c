package dev.pinfleet.mirror.serve;

import dev.pinfleet.fs.LineFile;
import dev.pinfleet.manifest.Hashing;
import dev.pinfleet.manifest.Names;
import dev.pinfleet.mirror.policy.Uploaders;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who may upload over HTTP: a tokens file of {@code USER SHA256-HEX-OF-TOKEN} lines ('#' comments and blank
 * lines ignored), so the file holds no secret. A client presents {@code USER:TOKEN} with HTTP Basic
 * authentication; the token is hashed and compared in constant time. A user may have several tokens (one
 * line each, e.g. while rotating). Authentication only says who is asking: whether they may publish is the
 * mirror's sign-off policy ({@link dev.pinfleet.mirror.policy.SignOff}).
 */
public final class UploadTokens {
    private static final byte[] NO_MATCH = new byte[32];

    private final Map<String, List<byte[]>> hashes;

    private UploadTokens(Map<String, List<byte[]>> hashes) {
        this.hashes = hashes;
    }

    /**
     * Reads a tokens file.
     *
     * @throws IOException naming {@code file:line} for a malformed line, or when it cannot be read or lists
     *                     no token at all
     */
    public static UploadTokens read(Path file) throws IOException {
        Map<String, List<byte[]>> out = new HashMap<>();
        for (LineFile.Line line : LineFile.read(file)) {
            String[] f = line.fields();
            String where = line.where();
            if (f.length != 2) {
                throw new IOException(where + ": expected 'USER SHA256-OF-TOKEN', found " + f.length + " field(s)");
            }
            if (Uploaders.checkUser(f[0]) != null) {
                throw new IOException(where + ": " + Uploaders.checkUser(f[0]));
            }
            if (!Hashing.isSha256Hex(f[1])) {
                throw new IOException(where + ": '" + Names.printable(f[1])
                        + "' is not a sha256 digest (64 lowercase hex); store the token's digest, never the token");
            }
            out.computeIfAbsent(f[0], k -> new java.util.ArrayList<>()).add(HexFormat.of().parseHex(f[1]));
        }
        if (out.isEmpty()) {
            throw new IOException(file + " lists no upload token; uploads would be refused to everyone");
        }
        out.replaceAll((k, v) -> List.copyOf(v));
        return new UploadTokens(Map.copyOf(out));
    }

    /** Users with at least one token. */
    public Set<String> users() {
        return hashes.keySet();
    }

    /**
     * True when {@code token} is one of {@code user}'s tokens. The token's digest is compared with every
     * digest of the user (and with a dummy for unknown users) in constant time, so timing reveals neither
     * which part of a token matched nor whether the user exists beyond the work of one hash.
     */
    public boolean authenticate(String user, String token) {
        byte[] presented = Hashing.sha256().digest(token.getBytes(StandardCharsets.UTF_8));
        List<byte[]> mine = user == null ? null : hashes.get(user);
        boolean ok = false;
        if (mine == null) {
            MessageDigest.isEqual(presented, NO_MATCH);
            return false;
        }
        for (byte[] h : mine) {
            ok |= MessageDigest.isEqual(presented, h);
        }
        return ok;
    }

    /** A new random token: 32 bytes from {@link SecureRandom}, URL-safe base64 without padding. */
    public static String newToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    /** The line a tokens file holds for {@code user}'s {@code token}: {@code USER SHA256-HEX}. */
    public static String line(String user, String token) {
        return user + " " + Hashing.sha256Hex(token.getBytes(StandardCharsets.UTF_8));
    }
}

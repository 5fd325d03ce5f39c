package dev.pinfleet.mirror.wheel;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The fields of a core metadata file ({@code METADATA}) that the mirror needs: RFC 822 style headers,
 * header names matched case-insensitively, continuation lines folded, the body (after the first blank
 * line) ignored.
 *
 * @param name           the {@code Name} header, as written
 * @param version        the {@code Version} header, as written
 * @param requiresPython the {@code Requires-Python} header, or the empty string when absent
 * @param requiresDist   every {@code Requires-Dist} header, in order
 */
public record WheelMetadata(String name, String version, String requiresPython, List<String> requiresDist) {

    /** Largest METADATA accepted, in bytes; real ones are kilobytes, long descriptions included. */
    public static final int MAX_METADATA_BYTES = 16 * 1024 * 1024;

    private static final Pattern METADATA_ENTRY = Pattern.compile("[^/]+\\.dist-info/METADATA");

    public WheelMetadata {
        requiresDist = List.copyOf(requiresDist);
    }

    /**
     * Reads the METADATA of a wheel: the single {@code <x>.dist-info/METADATA} entry at its top level.
     *
     * @throws IOException when the file is not a readable zip, has no or several such entries, or the
     *                     metadata lacks Name or Version; the message names the wheel
     */
    public static WheelMetadata read(Path wheel) throws IOException {
        try (ZipFile zip = new ZipFile(wheel.toFile())) {
            return read(zip, wheel.getFileName().toString());
        } catch (ZipException e) {
            throw new IOException(wheel + " is not a valid zip archive: " + e.getMessage(), e);
        }
    }

    /** As {@link #read(Path)} for an already opened archive; {@code label} names it in errors. */
    public static WheelMetadata read(ZipFile zip, String label) throws IOException {
        ZipEntry found = null;
        for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
            ZipEntry e = en.nextElement();
            if (METADATA_ENTRY.matcher(e.getName()).matches()) {
                if (found != null) {
                    throw new IOException(label + " has more than one .dist-info/METADATA: " + found.getName()
                            + " and " + e.getName());
                }
                found = e;
            }
        }
        if (found == null) {
            throw new IOException(label + " has no <name>-<version>.dist-info/METADATA entry");
        }
        if (found.getSize() > MAX_METADATA_BYTES) {
            throw new IOException(label + ": " + found.getName() + " is larger than " + MAX_METADATA_BYTES + " bytes");
        }
        byte[] bytes;
        try (InputStream in = zip.getInputStream(found)) {
            bytes = in.readNBytes(MAX_METADATA_BYTES + 1);
        }
        if (bytes.length > MAX_METADATA_BYTES) {
            throw new IOException(label + ": " + found.getName() + " is larger than " + MAX_METADATA_BYTES + " bytes");
        }
        try {
            return parse(decode(bytes));
        } catch (IllegalArgumentException e) {
            throw new IOException(label + ": " + found.getName() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Decodes METADATA bytes: UTF-8 as the core metadata spec says, falling back to ISO-8859-1 for the
     * old distributions that wrote Latin-1 (every byte sequence decodes, so this never fails).
     */
    public static String decode(byte[] bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return new String(bytes, StandardCharsets.ISO_8859_1);
        }
    }

    /**
     * Parses METADATA text.
     *
     * @throws IllegalArgumentException when Name or Version is missing or empty
     */
    public static WheelMetadata parse(String text) {
        String name = null;
        String version = null;
        String requiresPython = "";
        List<String> requiresDist = new ArrayList<>();
        List<String[]> headers = headers(text);
        for (String[] h : headers) {
            switch (h[0].toLowerCase(Locale.ROOT)) {
                case "name" -> name = name == null ? h[1] : name;
                case "version" -> version = version == null ? h[1] : version;
                case "requires-python" -> requiresPython = h[1];
                case "requires-dist" -> requiresDist.add(h[1]);
                default -> { }
            }
        }
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("METADATA has no Name header");
        }
        if (version == null || version.isEmpty()) {
            throw new IllegalArgumentException("METADATA has no Version header");
        }
        return new WheelMetadata(name, version, requiresPython, requiresDist);
    }

    /** The header block as (name, value) pairs; continuation lines are joined with a single space. */
    private static List<String[]> headers(String text) {
        List<String[]> out = new ArrayList<>();
        String[] lines = text.split("\r\n|\n|\r", -1);
        for (String line : lines) {
            if (line.isEmpty()) {
                break;
            }
            if ((line.charAt(0) == ' ' || line.charAt(0) == '\t')) {
                if (!out.isEmpty()) {
                    String[] last = out.get(out.size() - 1);
                    String more = line.strip();
                    last[1] = last[1].isEmpty() ? more : more.isEmpty() ? last[1] : last[1] + " " + more;
                }
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                continue;
            }
            out.add(new String[] {line.substring(0, colon).strip(), line.substring(colon + 1).strip()});
        }
        return out;
    }
}

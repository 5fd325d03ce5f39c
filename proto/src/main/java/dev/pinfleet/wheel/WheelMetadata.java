package dev.pinfleet.wheel;

import dev.pinfleet.archive.ArchiveException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * The fields of a core metadata file ({@code METADATA}) that pinfleet needs, parsed once for the agent, the
 * mirror and freeze: {@link Headers} (names matched case-insensitively, continuation lines folded, the body
 * after the first blank line ignored).
 *
 * @param name           the first {@code Name} header, as written
 * @param version        the first {@code Version} header, as written
 * @param requiresPython the last {@code Requires-Python} header, or the empty string when absent
 * @param requiresDist   every {@code Requires-Dist} header, in order
 */
public record WheelMetadata(String name, String version, String requiresPython, List<String> requiresDist) {

    public WheelMetadata {
        requiresDist = List.copyOf(requiresDist);
    }

    /**
     * The METADATA of the wheel file {@code wheel}, named {@code fileName}, after the checks of
     * {@link WheelArchive#open} (which inflate only the metadata files).
     *
     * @throws IOException naming the file when it cannot be read or is not a valid wheel
     */
    public static WheelMetadata read(Path wheel, String fileName) throws IOException {
        try (WheelArchive w = WheelArchive.open(wheel, fileName)) {
            return w.metadata();
        } catch (ArchiveException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** As {@link #read(Path, String)} for a file that carries its published name. */
    public static WheelMetadata read(Path wheel) throws IOException {
        return read(wheel, wheel.getFileName().toString());
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
        Headers h = Headers.parse(text);
        String name = h.first("Name");
        String version = h.first("Version");
        List<String> rp = h.all("Requires-Python");
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("METADATA has no Name header");
        }
        if (version == null || version.isEmpty()) {
            throw new IllegalArgumentException("METADATA has no Version header");
        }
        return new WheelMetadata(name, version, rp.isEmpty() ? "" : rp.get(rp.size() - 1), h.all("Requires-Dist"));
    }
}

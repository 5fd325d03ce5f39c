package dev.pinfleet.wheel.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The three wheels of the threat model that every agent refuses and the publisher once accepted, each otherwise
 * valid (its RECORD lists every file with the right hash):
 *
 * @param link   {@code linky-1.0}: entry {@code linky/passwd} is a symbolic link (unix mode 0120777) to /etc/passwd
 * @param script {@code scripty-1.0}: a {@code console_scripts} entry point named {@code ../../x}
 * @param bomb   {@code bomby-1.0}: {@code bomby/zeros.bin}, 2 GiB of zeros deflated 1028:1 ({@link ZipBuilder#twoGibOfZeros})
 */
public record HostileWheels(Path link, Path script, Path bomb) {

    /** Writes the three wheels into {@code dir}. */
    public static HostileWheels write(Path dir) throws IOException {
        return new HostileWheels(
                new WheelBuilder("linky", "1.0").file("linky/__init__.py", "")
                        .file("linky/passwd", "/etc/passwd".getBytes(StandardCharsets.UTF_8), 0120777).build(dir),
                new WheelBuilder("scripty", "1.0").file("scripty/__init__.py", "")
                        .consoleScript("../../x", "scripty:main").build(dir),
                new WheelBuilder("bomby", "1.0").file("bomby/__init__.py", "")
                        .packed(ZipBuilder.twoGibOfZeros("bomby/zeros.bin"), ZipBuilder.TWO_GIB_OF_ZEROS_SHA256)
                        .build(dir));
    }
}

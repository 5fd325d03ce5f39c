package dev.pinfleet.controller.freeze;

import dev.pinfleet.wheel.WheelArchive;
import dev.pinfleet.wheel.WheelMetadata;
import java.util.List;

/**
 * A wheel published on the mirror, as fetched, hashed and checked by freeze.
 *
 * @param filename  file name
 * @param path      path relative to the mirror's base (e.g. packages/django/Django-4.2.11-py3-none-any.whl)
 * @param sha256    SHA-256 of its bytes, lowercase hex
 * @param size      size in bytes
 * @param metadata  the wheel's METADATA
 * @param installed what installing it creates in the target's virtualenv, from its central directory and RECORD
 */
public record MirrorFile(String filename, String path, String sha256, long size, WheelMetadata metadata,
        List<WheelArchive.InstalledFile> installed) {

    public MirrorFile {
        installed = List.copyOf(installed);
    }
}

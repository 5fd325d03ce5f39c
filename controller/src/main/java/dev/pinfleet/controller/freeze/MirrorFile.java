package dev.pinfleet.controller.freeze;

import dev.pinfleet.wheel.WheelMetadata;

/**
 * A file published on the mirror, as fetched and hashed by freeze.
 *
 * @param filename file name
 * @param path     path relative to the mirror's base (e.g. packages/django/Django-4.2.11-py3-none-any.whl)
 * @param sha256   SHA-256 of its bytes, lowercase hex
 * @param size     size in bytes
 * @param metadata the wheel's METADATA when it was asked for, else null
 */
public record MirrorFile(String filename, String path, String sha256, long size, WheelMetadata metadata) {}

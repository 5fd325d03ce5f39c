package dev.pinfleet.controller.freeze;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A comma-separated list of {@link Specifier}s, all of which a version must satisfy; the empty set accepts
 * every version.
 *
 * @param specifiers the parts, in written order
 */
public record SpecifierSet(List<Specifier> specifiers) {

    public SpecifierSet {
        specifiers = List.copyOf(specifiers);
    }

    /** The set that accepts every version. */
    public static final SpecifierSet ANY = new SpecifierSet(List.of());

    /**
     * Parses {@code ">=1.0, !=1.3.*, <2"}; blank text is {@link #ANY}.
     *
     * @throws IllegalArgumentException naming the part that is not a specifier
     */
    public static SpecifierSet parse(String text) {
        if (text == null || text.isBlank()) {
            return ANY;
        }
        List<Specifier> out = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            out.add(Specifier.parse(part));
        }
        return new SpecifierSet(out);
    }

    /** True when {@code version} satisfies every specifier. */
    public boolean contains(String version) {
        for (Specifier s : specifiers) {
            if (!s.contains(version)) {
                return false;
            }
        }
        return true;
    }

    /** True for the empty set. */
    public boolean isEmpty() {
        return specifiers.isEmpty();
    }

    /** The specifiers joined with ','. */
    @Override
    public String toString() {
        return specifiers.stream().map(Specifier::toString).collect(Collectors.joining(","));
    }
}

package dev.pinfleet.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.pinfleet.testing.PackageCycles;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** No two packages of the mirror module's main code use each other, directly or through others. */
class PackageCyclesTest {
    @Test
    void mainCodeHasNoPackageCycles() throws Exception {
        var graph = PackageCycles.graph(Path.of("target/classes"));
        assertEquals(List.of(), PackageCycles.cycles(graph), "package cycles in mirror; the graph: " + graph);
    }
}

package dev.pinfleet.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** No two packages of the proto module's main code use each other, directly or through others. */
class PackageCyclesTest {
    @Test
    void mainCodeHasNoPackageCycles() throws Exception {
        var graph = PackageCycles.graph(Path.of("target/classes"));
        assertEquals(List.of(), PackageCycles.cycles(graph), "package cycles in proto; the graph: " + graph);
    }

    @Test
    void aCycleThroughAThirdPackageIsFound() {
        assertEquals(List.of(Set.of("a", "b", "c")), PackageCycles.cycles(Map.of("a", Set.of("b"), "b", Set.of("c"),
                "c", Set.of("a"), "d", Set.of("a"))));
        assertEquals(List.of(), PackageCycles.cycles(Map.of("a", Set.of("b"), "b", Set.of(), "c", Set.of("a", "b"))));
    }
}

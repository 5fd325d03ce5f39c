package dev.pinfleet.testing;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.spi.ToolProvider;
import java.util.stream.Stream;

/**
 * The package dependency graph of one module's compiled main classes, as the JDK's {@code jdeps} reads it from
 * the byte code, and its cycles: each module's {@code PackageCyclesTest} asserts there are none, so a package
 * that needs another never finds that one needing it back.
 */
public final class PackageCycles {
    private PackageCycles() {}

    /** Package → the packages of the same classes directory it uses. */
    public static Map<String, Set<String>> graph(Path classes) throws IOException {
        Set<String> own = new TreeSet<>();
        try (Stream<Path> s = Files.walk(classes)) {
            s.filter(p -> p.toString().endsWith(".class")).forEach(p -> {
                Path dir = classes.relativize(p).getParent();
                own.add(dir == null ? "" : dir.toString().replace('/', '.'));
            });
        }
        ToolProvider jdeps = ToolProvider.findFirst("jdeps")
                .orElseThrow(() -> new IllegalStateException("this JDK has no jdeps tool"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:package", classes.toString());
        if (rc != 0) {
            throw new IllegalStateException("jdeps " + classes + " exited " + rc + ": " + err);
        }
        Map<String, Set<String>> graph = new TreeMap<>();
        own.forEach(p -> graph.put(p, new TreeSet<>()));
        for (String line : out.toString().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 3 && f[1].equals("->") && own.contains(f[0]) && own.contains(f[2]) && !f[0].equals(f[2])) {
                graph.get(f[0]).add(f[2]);
            }
        }
        return graph;
    }

    /** Every strongly connected set of more than one package (Tarjan), each sorted; empty when there is no cycle. */
    public static List<Set<String>> cycles(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<Set<String>> out = new ArrayList<>();
        for (String v : graph.keySet()) {
            if (!index.containsKey(v)) {
                connect(v, graph, index, low, stack, onStack, out);
            }
        }
        return out;
    }

    private static void connect(String v, Map<String, Set<String>> graph, Map<String, Integer> index,
            Map<String, Integer> low, Deque<String> stack, Set<String> onStack, List<Set<String>> out) {
        index.put(v, index.size());
        low.put(v, index.get(v));
        stack.push(v);
        onStack.add(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                connect(w, graph, index, low, stack, onStack, out);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            Set<String> component = new TreeSet<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            if (component.size() > 1) {
                out.add(component);
            }
        }
    }
}

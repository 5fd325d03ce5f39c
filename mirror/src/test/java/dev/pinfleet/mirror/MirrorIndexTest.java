package dev.pinfleet.mirror;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pinfleet.manifest.Hashing;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MirrorIndexTest {
    @TempDir
    Path dir;

    @Test
    void rebuildWritesPep503PagesWithHashesAndEscapedRequiresPython() throws Exception {
        Path whl = TestWheels.wheel(dir.resolve("packages/my-pkg"), "My_Pkg", "1.0", ">=3.8,<4",
                Map.of("my_pkg/__init__.py", "x = 1\n"));
        Files.writeString(dir.resolve("packages/my-pkg/my_pkg-0.9.tar.gz"), "not really a tarball");

        MirrorIndex.rebuild(dir);

        String root = Files.readString(dir.resolve("simple/index.html"));
        assertTrue(root.startsWith("<!DOCTYPE html>"), root);
        assertTrue(root.contains("<a href=\"my-pkg/\">my-pkg</a>"), root);
        String page = Files.readString(dir.resolve("simple/my-pkg/index.html"));
        String sha = Hashing.sha256Hex(whl);
        assertTrue(page.contains("<a href=\"../../packages/my-pkg/my_pkg-1.0-py3-none-any.whl#sha256=" + sha
                + "\" data-requires-python=\"&gt;=3.8,&lt;4\">my_pkg-1.0-py3-none-any.whl</a>"), page);
        assertTrue(page.contains("my_pkg-0.9.tar.gz#sha256=" + Hashing.sha256Hex(
                "not really a tarball".getBytes(StandardCharsets.UTF_8)) + "\">"), page);
        assertTrue(page.indexOf("my_pkg-0.9.tar.gz") < page.indexOf("my_pkg-1.0"), "files are sorted by name");
    }

    @Test
    void filesReportsShaAndRequiresPythonAndSkipsTempDotFilesAndBadDirectories() throws Exception {
        Path whl = TestWheels.wheel(dir.resolve("packages/demo"), "demo", "2.0", ">=3.9", Map.of("demo.py", ""));
        Files.writeString(dir.resolve("packages/demo/.demo-3.0-py3-none-any.whl.1234.tmp"), "partial");
        Files.createDirectories(dir.resolve("packages/Not_Normalized"));
        Files.writeString(dir.resolve("packages/Not_Normalized/x.whl"), "x");

        MirrorIndex index = new MirrorIndex(dir);
        SortedMap<String, List<IndexedFile>> projects = index.projects();

        assertEquals(List.of("demo"), List.copyOf(projects.keySet()));
        IndexedFile f = projects.get("demo").get(0);
        assertEquals(new IndexedFile("demo", "demo-2.0-py3-none-any.whl", Files.size(whl), Hashing.sha256Hex(whl),
                ">=3.9"), f);
        assertEquals("packages/demo/demo-2.0-py3-none-any.whl", f.relativePath());
    }

    @Test
    void rebuildUsesTheDigestCacheAndLeavesUnchangedPagesAlone() throws Exception {
        TestWheels.wheel(dir.resolve("packages/a"), "a", "1.0", "", Map.of("a.py", ""));
        MirrorIndex.rebuild(dir);
        Path page = dir.resolve("simple/a/index.html");
        String cache = Files.readString(dir.resolve(MirrorIndex.CACHE_FILE));
        assertTrue(cache.contains("packages/a/a-1.0-py3-none-any.whl\t"), cache);

        // Poison the cached digest: a rebuild that trusts the cache (same size and mtime) shows the poison.
        String poisoned = cache.replaceAll("\t[0-9a-f]{64}\t", "\t" + "0".repeat(64) + "\t");
        Files.writeString(dir.resolve(MirrorIndex.CACHE_FILE), poisoned);
        TestWheels.wheel(dir.resolve("packages/b"), "b", "1.0", "", Map.of("b.py", ""));
        MirrorIndex.rebuild(dir);

        assertTrue(Files.readString(page).contains("#sha256=" + "0".repeat(64)), "cached digest was used");
        assertTrue(Files.exists(dir.resolve("simple/b/index.html")));
        assertTrue(Files.readString(dir.resolve("simple/index.html")).contains("href=\"b/\""));
    }

    @Test
    void unchangedPageIsNotRewritten() throws Exception {
        TestWheels.wheel(dir.resolve("packages/a"), "a", "1.0", "", Map.of("a.py", ""));
        MirrorIndex.rebuild(dir);
        Path page = dir.resolve("simple/a/index.html");
        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(page, old);
        MirrorIndex.rebuild(dir);
        assertEquals(old, Files.getLastModifiedTime(page));
    }

    @Test
    void pagesOfProjectsWithoutFilesAreRemoved() throws Exception {
        Path whl = TestWheels.wheel(dir.resolve("packages/gone"), "gone", "1.0", "", Map.of("g.py", ""));
        MirrorIndex.rebuild(dir);
        assertTrue(Files.exists(dir.resolve("simple/gone/index.html")));
        Files.delete(whl);
        MirrorIndex.rebuild(dir);
        assertFalse(Files.exists(dir.resolve("simple/gone")));
        assertFalse(Files.readString(dir.resolve("simple/index.html")).contains("gone"));
    }

    @Test
    void rebuildOfAnEmptyMirrorWritesAnEmptyRoot() throws Exception {
        MirrorIndex.rebuild(dir);
        assertTrue(Files.readString(dir.resolve("simple/index.html")).contains("<body>"));
    }

    @Test
    void jsonPagesFollowPep691() {
        IndexedFile f = new IndexedFile("demo", "demo-1.0-py3-none-any.whl", 10, "ab".repeat(32), ">=3.8");
        assertEquals("{\"meta\":{\"api-version\":\"1.0\"},\"name\":\"demo\",\"files\":[{\"filename\":"
                + "\"demo-1.0-py3-none-any.whl\",\"url\":\"../../packages/demo/demo-1.0-py3-none-any.whl\","
                + "\"hashes\":{\"sha256\":\"" + "ab".repeat(32) + "\"},\"requires-python\":\">=3.8\"}]}\n",
                SimplePages.projectJson("demo", List.of(f)));
        assertEquals("{\"meta\":{\"api-version\":\"1.0\"},\"projects\":[{\"name\":\"a\"},{\"name\":\"b\"}]}\n",
                SimplePages.rootJson(List.of("a", "b")));
    }

    @Test
    void normalizedProjectNames() {
        assertTrue(MirrorIndex.isNormalizedProject("zope-interface"));
        assertTrue(MirrorIndex.isNormalizedProject("a"));
        assertFalse(MirrorIndex.isNormalizedProject("Zope.Interface"));
        assertFalse(MirrorIndex.isNormalizedProject("-a"));
        assertFalse(MirrorIndex.isNormalizedProject(".."));
        assertFalse(MirrorIndex.isNormalizedProject("a--b".replace("--", "/")));
    }
}
